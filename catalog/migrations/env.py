"""Alembic environment for the catalog; run through ``catalog.init_catalog``.

The caller passes an open connection in ``config.attributes["connection"]`` so that
SQLite's ``BEGIN IMMEDIATE`` and the engine's settings apply to migrations too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from catalog.models import Base

# An arbitrary constant: two `pseudolink init` runs against one PostgreSQL must not
# both create the tables.
_PG_MIGRATION_LOCK = 0x70736C6B


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"),
                      target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as owned:
            _run(owned)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
