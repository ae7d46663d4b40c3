"""Where the airlock keeps its requests: one SQLite file and content-addressed objects.

The store lives in the workspace (``<workspace>/airlock/``), outside every researcher's
room: ``airlock.db`` holds requests, files and votes; ``objects/<sha256>`` holds each
submitted file byte for byte, so what the checkers review is exactly what leaves.
The audit trail itself is in the catalog (``Catalog.audit``), not here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, author TEXT NOT NULL, state TEXT NOT NULL, context TEXT NOT NULL,
    controls TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    request_id TEXT NOT NULL REFERENCES requests(id), name TEXT NOT NULL,
    sha256 TEXT NOT NULL, kind TEXT NOT NULL, checks TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (request_id, name));
CREATE TABLE IF NOT EXISTS votes (
    request_id TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
    checker TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (request_id, name, sha256, checker));
"""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_atomically(source: Path, target: Path, mode: int = 0o444) -> None:
    """Copy under a temporary name in the target's directory, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class AirlockStore:
    """SQLite rows and content-addressed objects under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "airlock.db"
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.executescript(SCHEMA)
        finally:
            db.close()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction; IMMEDIATE so two checkers voting at once serialise."""
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def keep(self, source: Path) -> str:
        """Store a file by its SHA-256 and return the digest."""
        digest = sha256_of(source)
        target = self.objects / digest
        if not target.exists():
            copy_atomically(source, target)
        return digest

    def object_path(self, digest: str) -> Path:
        return self.objects / digest
