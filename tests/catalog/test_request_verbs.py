"""A researcher's own verbs: amend, withdraw, renew, show and list (issue 16), in the
catalog and as `pseudolink catalog request ...`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

import catalog
import pseudolink.cli  # noqa: F401  (registers every command)
from catalog.coltypes import utcnow
from catalog.models import AccessRequest
from pseudolink.cli.app import app
from tests.accounts import log_in
from tests.catalog.conftest import make_request

runner = CliRunner()


def _actions(cat: catalog.Catalog, target: str) -> list[str]:
    return [e["action"] for e in cat.audit_entries() if e["target"] == target]


def test_requester_withdraws_a_submission_and_resubmits_it(cat: catalog.Catalog,
                                                           people: dict) -> None:
    make_request(cat, "r1", state="under_review")
    cat.withdraw_request("r1", actor="alice", reason="wrong columns")
    info = cat.get_request("r1")
    assert (info.state, info.state_reason) == ("draft", "wrong columns")
    cat.amend_request("r1", actor="alice", columns=["ssis__sido"])
    cat.submit_request("r1", actor="alice")
    assert cat.get_request("r1").columns == ["ssis__sido"]
    assert _actions(cat, "r1")[-3:] == ["request.withdraw", "request.amend", "request.submit"]


def test_nobody_else_withdraws_amends_or_renews_my_request(cat: catalog.Catalog,
                                                           people: dict) -> None:
    make_request(cat, "r1", state="submitted")
    make_request(cat, "r2", state="active")
    for actor in ("bob", "po1", "root"):
        with pytest.raises(catalog.PermissionRefused):
            cat.withdraw_request("r1", actor=actor)
        with pytest.raises(catalog.PermissionRefused):
            cat.renew_request("r2", f"r2-{actor}", ends_at=utcnow() + timedelta(days=90),
                              actor=actor)
    cat.withdraw_request("r1", actor="alice")
    with pytest.raises(catalog.PermissionRefused):
        cat.amend_request("r1", actor="bob", outputs="everything, unchecked")
    assert cat.get_request("r1").outputs == "aggregate tables reviewed before export"
    assert "access.refused" in _actions(cat, "r1")
    assert "access.refused" in _actions(cat, "r2")


def test_rejected_request_is_redrafted_with_the_reviewers_reason_kept(
        cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "r1", state="rejected")
    info = cat.amend_request("r1", actor="alice", outputs="counts of at least 10")
    assert info.state == "draft" and info.outputs == "counts of at least 10"
    assert [r["reason"] for r in info.reviews] == ["too risky"]
    cat.submit_request("r1", actor="alice")
    assert cat.get_request("r1").state == "submitted"


def test_amend_refuses_a_submitted_request_and_unknown_fields(cat: catalog.Catalog,
                                                              people: dict) -> None:
    make_request(cat, "r1", state="submitted")
    with pytest.raises(catalog.CatalogError, match="withdraw it first"):
        cat.amend_request("r1", actor="alice", outputs="x")
    with pytest.raises(catalog.CatalogError, match="cannot amend requester_id"):
        cat.amend_request("r1", actor="alice", requester_id="bob")
    cat.withdraw_request("r1", actor="alice")
    cat.register_dataset("housing-combined", title="t", path="/x.parquet", columns={
        "ssis__sido": "quasi_identifier", "ssis__benefit_type": "sensitive",
        "name": "direct_identifier"}, project_id=None, lineage={}, actor="root")
    with pytest.raises(catalog.CatalogError, match="direct identifier"):
        cat.amend_request("r1", actor="alice", columns=["name"])


def test_renewal_drafts_a_successor_only_before_expiry(cat: catalog.Catalog,
                                                       people: dict) -> None:
    make_request(cat, "r1", state="active", days=10)
    old_end = cat.get_request("r1").ends_at
    renewal = cat.renew_request("r1", "r1-renewal-1", ends_at=old_end + timedelta(days=180),
                                actor="alice")
    assert (renewal.state, renewal.starts_at, renewal.columns) == (
        "draft", old_end, ["ssis__sido", "ssis__benefit_type"])
    assert cat.get_request("r1").state == "active"
    assert "request.renew" in _actions(cat, "r1")
    with pytest.raises(catalog.CatalogError, match="must end after"):
        cat.renew_request("r1", "r1-short", ends_at=old_end, actor="alice")
    with cat._write() as session:
        session.execute(update(AccessRequest).values(ends_at=utcnow() - timedelta(hours=1)))
    with pytest.raises(catalog.CatalogError, match=r"ended on|is expired"):
        cat.renew_request("r1", "r1-late", ends_at=utcnow() + timedelta(days=30),
                          actor="alice")


def test_withdraw_is_refused_once_the_committee_has_voted(cat: catalog.Catalog,
                                                          people: dict) -> None:
    from tests.catalog.conftest import RISK

    make_request(cat, "t1", state="under_review", form="take_out")
    cat.attach_risk_report("t1", RISK, actor="po1")
    cat.appoint_committee("t1", ["po2", "po3", "po4"], actor="po1")
    cat.vote("t1", "approve", reason="fine", actor="po2")
    with pytest.raises(catalog.CatalogError, match="started voting"):
        cat.withdraw_request("t1", actor="alice")


# -- the CLI --------------------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    return tmp_path / "ws"


def _cli(workdir: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["catalog", "request", *args, "--workdir", str(workdir)])


def test_researcher_drafts_submits_and_reads_a_request_from_the_cli(
        cat: catalog.Catalog, people: dict, workdir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "alice")
    ends = (utcnow() + timedelta(days=60)).date().isoformat()
    created = _cli(workdir, "create", "cli-1", "--dataset", "housing-combined",
                   "--column", "ssis__sido", "--purpose", "statistics",
                   "--lawful-basis", "PIPA art. 28-2", "--setting", "room",
                   "--outputs", "tables", "--ends", ends, "--researcher", "bob")
    assert created.exit_code == 0, created.output
    assert _cli(workdir, "submit", "cli-1").exit_code == 0
    shown = _cli(workdir, "show", "cli-1")
    assert shown.exit_code == 0 and "submitted" in shown.output and "bob" in shown.output
    assert _cli(workdir, "withdraw", "cli-1", "--reason", "add a column").exit_code == 0
    assert _cli(workdir, "amend", "cli-1", "--column", "ssis__sido", "--column",
                "ssis__benefit_type").exit_code == 0
    assert cat.get_request("cli-1").columns == ["ssis__sido", "ssis__benefit_type"]


def test_a_researcher_lists_and_shows_only_their_own_requests(
        cat: catalog.Catalog, people: dict, workdir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    make_request(cat, "secret-1", state="submitted")
    log_in(cat, monkeypatch, "bob")
    listed = _cli(workdir, "list")
    assert listed.exit_code == 0 and "secret-1" not in listed.output
    shown = _cli(workdir, "show", "secret-1")
    assert isinstance(shown.exception, catalog.CatalogError)
    assert "of yours" in str(shown.exception)
    log_in(cat, monkeypatch, "po1")
    assert "secret-1" in _cli(workdir, "list").output


def test_a_malformed_end_date_is_one_error_line(cat: catalog.Catalog, people: dict,
                                                workdir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "alice")
    make_request(cat, "r1", state="active")
    result = _cli(workdir, "renew", "r1", "--ends", "31/12/2027")
    assert result.exit_code == 2
    assert "--ends '31/12/2027': not a date (YYYY-MM-DD)" in result.output
    assert "Traceback" not in result.output
