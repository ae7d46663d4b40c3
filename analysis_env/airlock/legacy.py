"""Upgrading a workspace whose airlock kept its own ``airlock.db`` (before migration 0006).

Its requests, files and votes are carried into the catalog once, each request with an
``airlock.imported`` audit entry, and the file is renamed ``airlock.db.imported`` so
nothing reads it again. The old file's rows were never tied to their audit entries; the
audit entries the old airlock wrote stay in the log as they were.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from pathlib import Path

import catalog
from analysis_env.errors import AnalysisEnvError

LEGACY_NAME = "airlock.db"


def import_legacy(root: Path, records: catalog.AirlockRecords) -> int:
    """Import ``root/airlock.db`` if there is one; returns how many requests came in."""
    legacy = Path(root) / LEGACY_NAME
    claimed = legacy.with_name(f"{LEGACY_NAME}.importing")
    try:
        # Whoever renames it imports it: two processes opening the airlock at once
        # cannot both carry the same rows over.
        os.rename(legacy, claimed)
    except FileNotFoundError:
        return 0
    actor = f"operator:{getpass.getuser()}"
    imported = 0
    try:
        db = sqlite3.connect(f"{claimed.resolve().as_uri()}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            for request in db.execute("SELECT * FROM requests ORDER BY created_at, id"):
                files = [dict(f) | {"checks": json.loads(f["checks"])} for f in db.execute(
                    "SELECT * FROM files WHERE request_id = ? ORDER BY name", (request["id"],))]
                votes = [dict(v) for v in db.execute(
                    "SELECT * FROM votes WHERE request_id = ? ORDER BY at, checker",
                    (request["id"],))]
                imported += records.adopt(dict(request), files, votes, actor=actor,
                                          source=str(legacy))
        finally:
            db.close()
    except (sqlite3.Error, catalog.CatalogError, KeyError, ValueError) as exc:
        os.rename(claimed, legacy)
        raise AnalysisEnvError(f"{legacy}: cannot carry the old airlock's requests into the "
                               f"catalog ({exc}); nothing was moved, fix and retry") from None
    os.rename(claimed, legacy.with_name(f"{LEGACY_NAME}.imported"))
    return imported
