"""Engines, transactions and schema migrations for SQLite and PostgreSQL.

Writers must never interleave on the audit chain or a privacy budget. PostgreSQL
gets row locks (``SELECT ... FOR UPDATE``) from the callers; SQLite has no row
locks, so every writing transaction starts with ``BEGIN IMMEDIATE``, which takes
the database's write lock up front and makes concurrent writers queue.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from catalog.errors import CatalogError

MIGRATIONS = Path(__file__).parent / "migrations"
#: Seconds a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 60


def parse_url(url: str) -> URL:
    """The URL with a driver we ship: a bare ``postgresql://`` means psycopg 3.

    >>> parse_url("postgresql://postgres@127.0.0.1/catalog").drivername
    'postgresql+psycopg'
    >>> parse_url("sqlite:////tmp/catalog.db").database
    '/tmp/catalog.db'
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CatalogError(f"not a database URL: {redacted(url)!r} ({exc})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def redacted(url: str | URL) -> str:
    """A URL fit for messages and logs: any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # Each connection would get its own empty database: the audit chain would vanish.
            raise CatalogError("an in-memory SQLite catalog cannot be shared or kept: "
                               "give a file, e.g. sqlite:///path/to/catalog.db")
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        _sqlite_transactions(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get("catalog_readonly"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    """Alembic settings pointing at the migrations inside this package (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the catalog package ships no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def init_catalog(url: str) -> None:
    """Create the catalog or bring it up to the newest schema; safe to run again.

    For SQLite the database file's directory is created too.
    """
    engine = make_engine(url)
    parsed = engine.url
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(engine)
    except OperationalError as exc:
        raise CatalogError(f"cannot migrate the catalog at {redacted(parsed)}: "
                           f"{exc.orig or exc}") from None
    finally:
        engine.dispose()


def require_head(engine: Engine) -> None:
    """Refuse a database whose schema this code does not match."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and not Path(url.database).expanduser().exists():
        # Opening it would create an empty file that later looks like a catalog.
        raise CatalogError(f"no catalog at {url.database}: run `pseudolink init`")
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise CatalogError(f"cannot open the catalog at {redacted(engine.url)}: "
                           f"{exc.orig or exc}") from None
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise CatalogError(f"the catalog at {redacted(engine.url)} is not initialised: "
                           "run `pseudolink init`")
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        raise CatalogError(f"the catalog at {redacted(engine.url)} has schema revision "
                           f"{current}, unknown to this pseudolink (newer?): upgrade pseudolink")
    raise CatalogError(f"the catalog at {redacted(engine.url)} is at schema revision {current}, "
                       f"not {head}: run `pseudolink init` to migrate it")
