"""The exchange's own state in SQL (PostgreSQL in production, SQLite for quick tests):
registered projects, published files, and the nonces of signed requests already seen.

It holds no secret: manifests are public, and a file row is metadata of a sealed envelope
(kind, sender, recipient, size, digest, its signed header).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from linkage.errors import LinkageError
from linkage.keys.project import ProjectManifest

metadata = MetaData()

projects = Table(
    "exchange_projects", metadata,
    Column("id", String(200), primary_key=True),
    Column("manifest", Text, nullable=False),
    Column("registered_at", BigInteger, nullable=False),
)

files = Table(
    "exchange_files", metadata,
    Column("project", String(200), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("header", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

nonces = Table(
    "exchange_nonces", metadata,
    Column("party", String(64), primary_key=True),
    Column("nonce", String(200), primary_key=True),
    Column("created", BigInteger, nullable=False, index=True),
)


@dataclass(frozen=True)
class FileRow:
    project: str
    digest: str
    kind: str
    sender: str
    recipient: str
    size: int
    header: str
    created_at: int

    def public(self) -> dict[str, Any]:
        return {"sha256": self.digest, "kind": self.kind, "sender": self.sender,
                "recipient": self.recipient, "size": self.size,
                "created_at": self.created_at}


class ExchangeState:
    """Projects, files and nonces; each method is one short transaction."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(database_url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def register(self, manifest: ProjectManifest) -> None:
        """Register a project's public manifest, or update it to a later key version.

        A different project under a registered id (another nonce or other parties) is
        refused: it would let whoever registers it choose whose keys the exchange trusts.
        """
        text = json.dumps(manifest.to_dict(), ensure_ascii=False, sort_keys=True)
        with self.engine.begin() as db:
            row = db.execute(select(projects.c.manifest).where(
                projects.c.id == manifest.id)).first()
            if row is None:
                db.execute(insert(projects).values(id=manifest.id, manifest=text,
                                                   registered_at=int(time.time())))
                return
            old = _manifest(row.manifest)
            if old.nonce != manifest.nonce or old.parties != manifest.parties:
                raise LinkageError(f"project {manifest.id} is registered with other parties "
                                   "or another creation of it; refused")
            if manifest.key_version < old.key_version:
                raise LinkageError(f"project {manifest.id} is registered at key version "
                                   f"{old.key_version}; refusing to go back to "
                                   f"{manifest.key_version}")
            db.execute(projects.update().where(projects.c.id == manifest.id)
                       .values(manifest=text))

    def project(self, project_id: str) -> ProjectManifest | None:
        with self.engine.connect() as db:
            row = db.execute(select(projects.c.manifest).where(
                projects.c.id == project_id)).first()
        return None if row is None else _manifest(row.manifest)

    def projects(self) -> list[ProjectManifest]:
        with self.engine.connect() as db:
            rows = db.execute(select(projects.c.manifest)).all()
        return [_manifest(row.manifest) for row in rows]

    def seen(self, party: str, nonce: str, created: int, max_age: int) -> bool:
        """Record a request's nonce; True if it was recorded before (a replay)."""
        with self.engine.begin() as db:
            db.execute(delete(nonces).where(nonces.c.created < int(time.time()) - 2 * max_age))
        try:
            with self.engine.begin() as db:
                db.execute(insert(nonces).values(party=party, nonce=nonce, created=created))
        except IntegrityError:
            return True
        return False

    def add_file(self, row: FileRow) -> bool:
        """Record a published file; False if the project already holds that digest."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(files).values(**row.__dict__))
        except IntegrityError:
            return False
        return True

    def file(self, project: str, digest: str) -> FileRow | None:
        with self.engine.connect() as db:
            row = db.execute(select(files).where(files.c.project == project,
                                                 files.c.digest == digest)).first()
        return None if row is None else FileRow(**row._mapping)

    def files(self, project: str) -> list[FileRow]:
        with self.engine.connect() as db:
            rows = db.execute(select(files).where(files.c.project == project)
                              .order_by(files.c.created_at, files.c.digest)).all()
        return [FileRow(**row._mapping) for row in rows]

    def files_for(self, recipient: str) -> list[FileRow]:
        """Every file addressed to ``recipient``, in any project (a worker's inbox)."""
        with self.engine.connect() as db:
            rows = db.execute(select(files).where(files.c.recipient == recipient)
                              .order_by(files.c.created_at, files.c.digest)).all()
        return [FileRow(**row._mapping) for row in rows]


def manifest_from_text(text: str) -> ProjectManifest:
    """A manifest from its JSON text (a party checks the one the exchange sends)."""
    return _manifest(text)


@lru_cache(maxsize=64)
def _manifest(text: str) -> ProjectManifest:
    # ProjectManifest.load reads a file; the manifest is public, so a scratch copy is fine.
    with tempfile.TemporaryDirectory(prefix="pseudolink-exchange-") as scratch:
        path = Path(scratch) / "project.json"
        path.write_text(text, encoding="utf-8")
        return replace(ProjectManifest.load(path), path=None)
