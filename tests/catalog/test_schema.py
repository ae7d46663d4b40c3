"""The schema: created and upgraded by the shipped migrations, refused when absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import catalog
from catalog.database import current_revision, downgrade, head_revision, make_engine, upgrade
from catalog.models import Base


def test_connect_to_uninitialised_catalog_says_run_pseudolink_init(empty_database: str) -> None:
    database_url = empty_database
    with pytest.raises(catalog.CatalogError, match="run `pseudolink init`"):
        catalog.Catalog.connect(database_url)
    if database_url.startswith("sqlite"):
        # Looking must not leave an empty file that would later pass for a catalog.
        assert not Path(make_url(database_url).database).exists()


def test_init_is_idempotent_and_creates_the_sqlite_directory(empty_database: str) -> None:
    database_url = empty_database
    catalog.init_catalog(database_url)
    catalog.init_catalog(database_url)
    with catalog.Catalog.connect(database_url) as cat:
        cat.audit("admin", "workspace.init", "catalog", {})
        assert cat.verify_audit().entries == 1
    catalog.init_catalog(database_url)
    with catalog.Catalog.connect(database_url) as cat:
        assert cat.verify_audit().ok


def test_upgrade_from_base_reaches_head(empty_database: str) -> None:
    database_url = empty_database
    catalog.init_catalog(database_url)
    engine = make_engine(database_url)
    try:
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert "audit_log" not in inspect(engine).get_table_names()
        upgrade(engine, "head")
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    with catalog.Catalog.connect(database_url) as cat:
        assert cat.verify_audit().ok


def test_migrations_create_exactly_the_models(empty_database: str) -> None:
    database_url = empty_database
    catalog.init_catalog(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_connect_refuses_a_catalog_behind_the_code(empty_database: str) -> None:
    database_url = empty_database
    catalog.init_catalog(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffffffff'"))
    finally:
        engine.dispose()
    with pytest.raises(catalog.CatalogError, match="unknown to this pseudolink"):
        catalog.Catalog.connect(database_url)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
])
def test_database_refuses_to_change_audit_entries(cat: catalog.Catalog, database_url: str,
                                                  statement: str) -> None:
    cat.audit("officer", "login", "console", {})
    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    assert cat.verify_audit().ok
