"""Every file a project writes, where it lies, its digest, and its provable destruction.

The CLI records what each linkage stage wrote (linkage itself knows nothing of the
catalog); ``project close`` and the scheduled sweep then destroy exactly what was
recorded, wherever it was written, and leave a destruction certificate in the audit
log: each file, the digest it was recorded with, the digest found, and whether it was
there to destroy. Contents never enter the catalog, only digests.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import Artefact

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArtefactInfo:
    """One recorded file; ``path`` as stored (relative to the workspace root if inside it)."""

    project_id: str
    stage: str
    kind: str
    path: str
    sha256: str
    size: int
    holder: str
    recorded_by: str
    recorded_at: datetime
    destroyed_at: datetime | None
    destroyed_by: str | None


def artefact_info(row: Artefact) -> ArtefactInfo:
    return ArtefactInfo(
        project_id=row.project_id, stage=row.stage, kind=row.kind, path=row.path,
        sha256=row.sha256, size=row.size, holder=row.holder, recorded_by=row.recorded_by,
        recorded_at=row.recorded_at, destroyed_at=row.destroyed_at,
        destroyed_by=row.destroyed_by)


def stored_path(path: str | Path, root: str | Path) -> str:
    """The path as the catalog keeps it: relative inside the workspace, absolute outside.

    >>> stored_path("/ws/data/p/linkmap.age", "/ws"), stored_path("/tmp/x.age", "/ws")
    ('data/p/linkmap.age', '/tmp/x.age')
    """
    resolved = Path(os.path.abspath(Path(path).expanduser()))
    base = Path(os.path.abspath(Path(root).expanduser()))
    try:
        return resolved.relative_to(base).as_posix()
    except ValueError:
        return str(resolved)


def local_path(stored: str, root: str | Path) -> Path:
    """Where a stored path lies on this machine now (relative ones follow the workspace)."""
    path = Path(stored)
    return path if path.is_absolute() else Path(root) / path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def shred(path: Path) -> None:
    """Overwrite a file with random bytes, then unlink it.

    Overwriting first means a copy-on-write snapshot or a backup is the only way back,
    not an undelete tool; the certificate says which file, not how thoroughly the disk
    forgot it (docs/security.md lists that as what remains).
    """
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        remaining = size
        while remaining:
            block = min(remaining, _CHUNK)
            fh.write(secrets.token_bytes(block))
            remaining -= block
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def describe(files: Mapping[str, str | Path], root: str | Path) -> list[dict[str, Any]]:
    """Kind, stored path, digest and size of each file; read before any lock is taken.

    ``files`` maps a label to a path; the kind is the label's first word, so that
    ``"payload 1"`` and ``"payload 2"`` are both payloads.
    """
    described = []
    for label, path in files.items():
        local = Path(path)
        kind = (label.split() or ["file"])[0][:32]
        described.append({"kind": kind, "path": stored_path(local, root),
                          "sha256": sha256_file(local), "size": local.stat().st_size})
    return described


def upsert(session: Session, project_id: str, stage: str, holder: str, actor: str,
           files: list[dict[str, Any]], now: datetime) -> None:
    """Record each file; a stage run again over the same path replaces the old record."""
    for item in files:
        row = session.scalars(select(Artefact).where(
            Artefact.project_id == project_id, Artefact.path == item["path"])).one_or_none()
        if row is None:
            row = Artefact(project_id=project_id, path=item["path"])
            session.add(row)
        row.stage, row.kind, row.holder = stage, item["kind"], holder
        row.sha256, row.size = item["sha256"], item["size"]
        row.recorded_by, row.recorded_at = actor, now
        row.destroyed_at = row.destroyed_by = None


def destroy_files(rows: list[Artefact], root: str | Path) -> list[dict[str, Any]]:
    """Shred each recorded file that is still there; one certificate line per file.

    ``state`` is ``destroyed`` (found with the recorded digest), ``destroyed_changed``
    (found, but its bytes differ from what was recorded), or ``absent`` (nothing at the
    recorded path: already destroyed, or moved away, which the certificate then shows).
    """
    lines = []
    for row in rows:
        path = local_path(row.path, root)
        line: dict[str, Any] = {"kind": row.kind, "stage": row.stage, "holder": row.holder,
                                "path": row.path, "sha256": row.sha256, "size": row.size}
        if path.is_file():
            found = sha256_file(path)
            shred(path)
            line["state"] = "destroyed" if found == row.sha256 else "destroyed_changed"
            if found != row.sha256:
                line["sha256_found"] = found
        else:
            line["state"] = "absent"
        lines.append(line)
    return lines
