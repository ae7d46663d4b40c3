"""`pseudolink catalog ...` as an operator runs it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

import catalog
import pseudolink.cli.catalog  # noqa: F401  (registers the `catalog` commands)
from catalog.coltypes import utcnow
from catalog.models import AccessRequest
from pseudolink.cli.app import app
from tests.accounts import log_in
from tests.catalog.conftest import make_request

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    return tmp_path / "ws"


def _run(workdir: Path, *args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["catalog", *args, "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    return result.output


def test_expire_sweeps_lapsed_access(cat: catalog.Catalog, people: dict, workdir: Path) -> None:
    make_request(cat, "r1", state="active")
    with cat._write() as session:
        session.execute(update(AccessRequest).values(ends_at=utcnow() - timedelta(hours=1)))
    assert "1 access request(s) expired: r1" in _run(workdir, "expire")
    assert "0 access request(s) expired" in _run(workdir, "expire")


def test_apikey_issue_prints_the_secret_once(cat: catalog.Catalog, workdir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "root")
    output = _run(workdir, "apikey", "issue", "dashboard", "--quota", "50", "--days", "30")
    secret = output.strip().splitlines()[-1]
    check = cat.check_api_key(secret)
    assert check.status == "valid" and check.daily_quota == 50
    assert check.key_id in _run(workdir, "apikey", "list")
    _run(workdir, "apikey", "revoke", check.key_id)
    assert cat.check_api_key(secret).status == "revoked"


def test_user_admin_and_request_actions(cat: catalog.Catalog, people: dict, workdir: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "root")
    _run(workdir, "org", "add", "lab", "--name", "Lab")
    _run(workdir, "user", "add", "po9", "--role", "privacy_officer", "--org", "lab")
    monkeypatch.setenv("PSEUDOLINK_USER_PASSWORD", "a long enough secret")
    _run(workdir, "user", "password", "po9")
    assert cat.authenticate("po9", "a long enough secret").role == "privacy_officer"
    make_request(cat, "r1", state="submitted")
    log_in(cat, monkeypatch, "po9")
    _run(workdir, "request", "review", "r1")
    result = runner.invoke(app, ["catalog", "request", "review", "r1",
                                 "--workdir", str(workdir)])
    assert isinstance(result.exception, catalog.IllegalTransition)
    _run(workdir, "request", "reject", "r1", "--reason", "purpose unclear")
    assert "rejected" in _run(workdir, "request", "list")


def test_catalog_commands_refuse_anyone_not_logged_in(cat: catalog.Catalog, people: dict,
                                                     workdir: Path) -> None:
    for args in (["org", "add", "lab", "--name", "Lab"],
                 ["user", "add", "eve", "--role", "privacy_officer"],
                 ["apikey", "issue", "dashboard"],
                 ["request", "review", "r1"]):
        result = runner.invoke(app, ["catalog", *args, "--workdir", str(workdir)])
        assert result.exit_code == 2, (args, result.output)
        assert "not logged in: run `pseudolink login`" in result.output
    assert cat.get_user("eve") is None


def test_a_logged_in_researcher_cannot_promote_herself_from_the_cli(
        cat: catalog.Catalog, people: dict, workdir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "alice")
    result = runner.invoke(app, ["catalog", "user", "add", "alice", "--role",
                                 "privacy_officer", "--workdir", str(workdir)])
    assert isinstance(result.exception, catalog.PermissionRefused)
    assert cat.get_user("alice").role == "researcher"
