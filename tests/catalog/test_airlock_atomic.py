"""An airlock vote and its audit entry are one fact: neither exists without the other.

Run on SQLite and PostgreSQL (the catalog's ``cat`` fixture): the airlock keeps its
requests, files, votes and decisions in the catalog database, so a vote and its audit
entry commit in one transaction, and an operator cannot record one without the other.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

import catalog
from analysis_env import Airlock, AnalysisEnvError
from tests.accounts import person

SAFE = pd.DataFrame({"owner": [25, 40, 65], "tenant": [12, 31, 43]},
                    index=["Jongno", "Jung", "Mapo"])


@pytest.fixture
def checkers(cat: catalog.Catalog) -> None:
    person(cat, "kim", "researcher")
    person(cat, "po1", "privacy_officer")
    person(cat, "po2", "privacy_officer")


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    folder = tmp_path / "room" / "kim" / "outputs"
    folder.mkdir(parents=True)
    SAFE.to_csv(folder / "tenure.csv")
    return folder


def _refuse_audit_of(url: str, action: str) -> None:
    """Make the database refuse to append one kind of audit entry (a failing audit)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.execute(text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                    f"WHEN NEW.action = '{action}' "
                    "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"))
            else:
                connection.execute(text(
                    "CREATE OR REPLACE FUNCTION audit_down() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.action = '{action}' THEN "
                    "RAISE EXCEPTION 'audit log unavailable'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"))
                connection.execute(text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION audit_down()"))
    finally:
        engine.dispose()


def _restore_audit(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.execute(text("DROP TRIGGER audit_down"))
            else:
                connection.execute(text("DROP TRIGGER audit_down ON audit_log"))
                connection.execute(text("DROP FUNCTION audit_down()"))
    finally:
        engine.dispose()


def test_a_vote_whose_audit_entry_fails_is_not_counted(cat, database_url, checkers, outputs,
                                                       tmp_path):
    airlock = Airlock(tmp_path / "airlock", cat)
    airlock.request("kim", outputs, ["tenure.csv"], context="tenure", controls="counts >= 10",
                    request_id="out-1")
    _refuse_audit_of(database_url, "airlock.vote")
    try:
        with pytest.raises((catalog.CatalogError, AnalysisEnvError)):
            airlock.vote("out-1", "approve", actor="po1", reason="fine")
    finally:
        _restore_audit(database_url)
    # The refused audit took the vote with it: po1 votes again, and it counts once.
    assert airlock.view("out-1", actor="po1").files[0].votes_in == 0
    airlock.vote("out-1", "approve", actor="po1", reason="fine")
    assert airlock.vote("out-1", "approve", actor="po2", reason="fine").state == "approved"
    votes = [e for e in cat.audit_entries() if e["action"] == "airlock.vote"]
    assert [e["actor"] for e in votes] == ["po1", "po2"]


def test_a_decision_whose_audit_entry_fails_leaves_the_request_submitted(
        cat, database_url, checkers, outputs, tmp_path):
    airlock = Airlock(tmp_path / "airlock", cat)
    airlock.request("kim", outputs, ["tenure.csv"], context="tenure", controls="counts >= 10",
                    request_id="out-2")
    airlock.vote("out-2", "approve", actor="po1", reason="fine")
    _refuse_audit_of(database_url, "airlock.approved")
    try:
        with pytest.raises((catalog.CatalogError, AnalysisEnvError)):
            airlock.vote("out-2", "approve", actor="po2", reason="fine")
    finally:
        _restore_audit(database_url)
    seen = airlock.view("out-2", actor="po2")
    assert seen.state == "submitted" and seen.files[0].votes_in == 1
    with pytest.raises(AnalysisEnvError, match="cannot become released"):
        airlock.release("out-2", actor="po2")


def test_the_airlock_keeps_no_database_of_its_own(cat, database_url, checkers, outputs,
                                                  tmp_path):
    airlock = Airlock(tmp_path / "airlock", cat)
    airlock.request("kim", outputs, ["tenure.csv"], context="tenure", controls="counts >= 10",
                    request_id="out-3")
    assert not list((tmp_path / "airlock").rglob("*.db"))
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"airlock_requests", "airlock_files", "airlock_votes"} <= tables
