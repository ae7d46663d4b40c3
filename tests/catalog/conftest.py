"""One parametrised database fixture: every catalog test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import catalog
from catalog.database import current_revision, head_revision
from catalog.models import Base
from tests.conftest import skip_unless_ci

POSTGRES_ADMIN_URL = os.environ.get(
    "PSEUDOLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database with a random name for this test session, dropped at the end."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"pseudolink_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        skip_unless_ci(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _fresh_postgres_catalog(url: str) -> None:
    """An initialised catalog with no rows: emptied in place when the schema is current.

    Migrating from nothing for every test would cost a second each; emptying costs
    milliseconds, and the schema tests still migrate from an empty database.
    """
    engine = create_engine(url)
    try:
        at_head = current_revision(engine) == head_revision()
        if at_head:
            # DELETE, not TRUNCATE: on tables this small it is forty times faster.
            with engine.begin() as connection:
                # Replica mode: the append-only triggers would refuse the DELETE.
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                for table in reversed(Base.metadata.sorted_tables):
                    connection.execute(table.delete())
                connection.execute(text(
                    "INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, :genesis)"),
                    {"genesis": "0" * 64})
    finally:
        engine.dispose()
    if not at_head:
        _empty_postgres(url)
        catalog.init_catalog(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The database under test on each backend; its state is what the next fixture made."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace' / 'catalog.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def empty_database(database_url: str) -> str:
    """The URL of a database with no schema at all."""
    if database_url.startswith("postgresql"):
        _empty_postgres(database_url)
    return database_url


@pytest.fixture
def cat(database_url: str) -> Iterator[catalog.Catalog]:
    """An initialised, connected catalog with no rows."""
    if database_url.startswith("postgresql"):
        _fresh_postgres_catalog(database_url)
    else:
        catalog.init_catalog(database_url)
    with catalog.Catalog.connect(database_url) as connected:
        yield connected


@pytest.fixture
def dataset(cat: catalog.Catalog) -> str:
    """A registered dataset with a classified column list, in an open project."""
    cat.record_project("housing-2026", purpose="scientific_research", mode="exact",
                       spec={"project": {"id": "housing-2026"}}, actor="agency")
    cat.register_dataset(
        "housing-combined", title="Combined housing data", path="/data/combined.parquet",
        columns={"link_id": "other", "ssis__sido": "quasi_identifier",
                 "ssis__benefit_type": "sensitive"},
        project_id="housing-2026", lineage={"holders": ["ssis", "building"]}, actor="agency")
    return "housing-combined"


def tamper(url: str, statement: str, **params: object) -> None:
    """Change the audit log behind the catalog's back, as a database owner could.

    The append-only triggers would refuse; an owner can disable them, which is exactly
    the attack the hash chain must still reveal.
    """
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                # Superuser only: triggers do not fire for this session.
                connection.execute(text("SET session_replication_role = replica"))
            else:
                connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
                connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            connection.execute(text(statement), params)
    finally:
        engine.dispose()
