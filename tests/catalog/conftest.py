"""One parametrised database fixture: every catalog test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import catalog
from catalog.database import current_revision, head_revision
from catalog.identity import HASHING_SETTING
from catalog.models import Base
from tests.conftest import fresh_postgres_database


@pytest.fixture(scope="package", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2's cheapest parameters for the catalog tests (production keeps the strong ones).

    The suite sets and checks passwords a few hundred times. test_identity checks that,
    unset, the strong cost applies; ``PSEUDOLINK_PASSWORD_HASHING=strong pytest ...``
    runs the whole suite at the production cost.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HASHING_SETTING, os.environ.get(HASHING_SETTING) or "test-only-insecure")
        yield


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database with a random name for this test session, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite catalog, copied per test: migrating each time costs 0.3 s."""
    path = tmp_path_factory.mktemp("template") / "catalog.db"
    catalog.init_catalog(f"sqlite:///{path}")
    return path


@pytest.fixture
def cat(database_url: str, sqlite_template: Path) -> Iterator[catalog.Catalog]:
    """An initialised, connected catalog with no rows."""
    if database_url.startswith("postgresql"):
        _fresh_postgres_catalog(database_url)
    else:
        target = Path(make_url(database_url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template, target)
    with catalog.Catalog.connect(database_url) as connected:
        yield connected


@pytest.fixture
def dataset(cat: catalog.Catalog) -> str:
    """A registered dataset with a classified column list, in an open project.

    ``agency``, a combiner, records the project and registers the dataset: the catalog
    refuses both to anyone the role matrix does not allow.
    """
    from tests.accounts import officer, person

    person(cat, "agency", "combiner")
    cat.record_project("housing-2026", purpose="scientific_research", mode="exact",
                       spec={"project": {"id": "housing-2026"}}, actor="agency")
    cat.register_dataset(
        "housing-combined", title="Combined housing data", path="/data/combined.parquet",
        columns={"link_id": "other", "ssis__sido": "quasi_identifier",
                 "ssis__benefit_type": "sensitive"},
        project_id="housing-2026", lineage={"holders": ["ssis", "building"]}, actor="agency")
    # The officer who records releases, budgets and bounds on it (a real, checked user).
    officer(cat, "officer")
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


# -- people and requests for the workflow tests -------------------------------------------

#: One user per role; the researcher is the requester of every request below.
ROLE_USERS = {"holder": "hana", "key_manager": "kim", "combiner": "choi",
              "privacy_officer": "po1", "researcher": "alice", "consumer": "cora",
              "admin": "root"}
REQUESTER_ORG = "uni-a"


@pytest.fixture
def people(cat: catalog.Catalog, dataset: str) -> dict[str, str]:
    """Organisations and users: one per role, seven officers, one conflicted officer.

    ``root`` is the bootstrap administrator (``pseudolink init --admin``), who records
    everyone else: the catalog refuses administration by anyone who is not an admin.
    """
    from tests.accounts import admin

    admin(cat)
    for org in (REQUESTER_ORG, "agency", "uni-b"):
        cat.record_organisation(org, name=org.upper(), actor="root")
    for role, user in ROLE_USERS.items():
        if user == "root":
            continue
        org = REQUESTER_ORG if role == "researcher" else "agency"
        cat.record_user(user, role=role, organisation_id=org, actor="root")
    for n in range(2, 8):
        cat.record_user(f"po{n}", role="privacy_officer",
                        organisation_id="uni-b" if n % 2 else "agency", actor="root")
    cat.record_user("po-conflict", role="privacy_officer", organisation_id=REQUESTER_ORG,
                    actor="root")
    cat.record_user("bob", role="researcher", organisation_id=REQUESTER_ORG, actor="root")
    return dict(ROLE_USERS)


RISK = {"qi": ["ssis__sido"], "sensitive": [], "records": 10, "classes": 2, "k": 5,
        "sample_uniques": 0, "prosecutor_risk_max": 0.2, "prosecutor_risk_avg": 0.2,
        "threshold": 0.2, "records_at_risk": 0, "l_distinct": None, "l_entropy": None,
        "t_closeness": None, "class_sizes": {"5": 2}, "by_sensitive": {}}

#: The calls that take a request one step along the happy path of each state.
PATH = ("draft", "submitted", "under_review", "approved", "active")


def make_request(cat: catalog.Catalog, request_id: str, *, state: str = "draft",
                 form: str = "secure_room", days: int = 30) -> str:
    """A request by alice, brought along the workflow to ``state``."""
    from datetime import timedelta

    from catalog.coltypes import utcnow

    cat.create_request(
        request_id, dataset_id="housing-combined", columns=["ssis__sido", "ssis__benefit_type"],
        release_form=form, purpose="scientific_research",
        lawful_basis="Personal Information Protection Act art. 28-2",
        researchers=["alice"], setting="secure analysis room, Seoul",
        outputs="aggregate tables reviewed before export",
        ends_at=utcnow() + timedelta(days=days), actor="alice", project_id="housing-2026")
    steps = {
        "submitted": lambda: cat.submit_request(request_id, actor="alice"),
        "under_review": lambda: cat.start_review(request_id, actor="po1"),
        "approved": lambda: cat.decide_request(request_id, "approve", reason="k >= 5",
                                               actor="po1", risk_report=RISK),
        "rejected": lambda: cat.decide_request(request_id, "reject", reason="too risky",
                                               actor="po1"),
        "active": lambda: cat.activate_request(request_id, actor="po1"),
        "revoked": lambda: cat.revoke_request(request_id, reason="breach", actor="po1"),
    }
    route = {"rejected": [*PATH[1:3], "rejected"], "revoked": [*PATH[1:], "revoked"],
             "expired": list(PATH[1:])}.get(state, list(PATH[1:PATH.index(state) + 1])
                                            if state in PATH else [])
    for step in route:
        steps[step]()
    if state == "expired":
        cat.expire_due(now=utcnow() + timedelta(days=days + 1))
    assert cat.get_request(request_id).state == state
    return request_id


# -- the console, driven by Streamlit's AppTest -------------------------------------------

CONSOLE_PASSWORD = "officer password 1"


def open_console(database_url: str, monkeypatch: pytest.MonkeyPatch):
    """The console app, run once (showing the login form), against ``database_url``."""
    from streamlit.testing.v1 import AppTest

    from catalog.console import APP

    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    app = AppTest.from_file(str(APP), default_timeout=30)
    return app.run()


def console_login(app, user: str, password: str = CONSOLE_PASSWORD):
    """Log in through the form, as a person would."""
    app.text_input(key="login_user").input(user)
    app.text_input(key="login_password").input(password)
    app.button[0].click()
    return app.run()
