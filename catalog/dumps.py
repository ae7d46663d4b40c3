"""A consistent copy of the catalog for a backup, and loading one into a new database.

SQLite is copied with its online backup API (a consistent snapshot while other processes
keep writing); PostgreSQL with ``pg_dump --format=custom``. A dump loads back into the
same kind of database, and a SQLite snapshot also into a fresh PostgreSQL catalog (the
way a pilot on one machine moves to production): rows are copied table by table in
dependency order, so the audit chain's hashes are recomputed from the same values.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from catalog.database import init_catalog, make_engine
from catalog.errors import CatalogError
from catalog.models import Base

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def kind_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in (SQLITE, POSTGRESQL):
        raise CatalogError(f"cannot back up a {backend} catalog: SQLite or PostgreSQL only")
    return backend


def _libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def dump(url: str, out: Path) -> str:
    """Write a consistent copy of the catalog at ``url`` to ``out``; returns its kind."""
    kind = kind_of(url)
    if kind == SQLITE:
        database = make_url(url).database
        if not database or not Path(database).is_file():
            raise CatalogError(f"no SQLite catalog at {database}")
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        target = sqlite3.connect(out)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return kind
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-acl", "--file", str(out),
          "--dbname", _libpq_url(url)], "pg_dump")
    return kind


def load(kind: str, dumped: Path, url: str) -> None:
    """Load a dump of ``kind`` into the empty catalog database at ``url``."""
    target = kind_of(url)
    if target == SQLITE:
        if kind != SQLITE:
            raise CatalogError("a PostgreSQL backup restores into PostgreSQL: give "
                               "--database-url postgresql://...")
        database = Path(make_url(url).database or "")
        if database.exists():
            raise CatalogError(f"{database} already exists: restore into an empty workspace")
        source = sqlite3.connect(dumped)
        copy = sqlite3.connect(database)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    _require_empty_postgres(url)
    if kind == POSTGRESQL:
        _run(["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
              "--dbname", _libpq_url(url), str(dumped)], "pg_restore")
        return
    _sqlite_into_postgres(dumped, url)


def _sqlite_into_postgres(dumped: Path, url: str) -> None:
    init_catalog(url)
    source = create_engine(f"sqlite:///{dumped}")
    target = make_engine(url)
    try:
        with source.connect() as reading, target.begin() as writing:
            # The migrations seed some rows (the chain head): the backup's replace them.
            for table in reversed(Base.metadata.sorted_tables):
                writing.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                rows = [dict(row._mapping) for row in reading.execute(select(table))]
                if rows:
                    writing.execute(insert(table), rows)
            for table in Base.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (
                            column.autoincrement == "auto" and column.type.python_type is int
                            and len(table.primary_key.columns) == 1):
                        writing.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{column.name}'), COALESCE(MAX({column.name}), 0) + 1, false) "
                            f"FROM {table.name}"))
    except SQLAlchemyError as exc:
        raise CatalogError(f"copying the catalog into PostgreSQL failed "
                           f"({type(exc).__name__}); nothing was committed") from None
    finally:
        source.dispose()
        target.dispose()


def _require_empty_postgres(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'public'")).scalar_one()
    finally:
        engine.dispose()
    if tables:
        raise CatalogError("the target PostgreSQL database is not empty: restore into a "
                           "new database (createdb), never over a live catalog")


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise CatalogError(f"{what} not found: install the PostgreSQL client "
                           "(postgresql-client)") from None
    if result.returncode != 0:
        # The URL is an argument, not in the message: stderr names no password.
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise CatalogError(f"{what} failed: {last}")
