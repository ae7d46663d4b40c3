"""`pseudolink audit verify --by-actor`: who took which step, each with their role."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog
import pseudolink.cli.audit  # noqa: F401  (registers the `audit` commands)
from catalog.identity import HASHING_SETTING
from pseudolink.cli.app import app

PASSWORD = "a long test password"
runner = CliRunner()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A keyed workspace where root made po1 and alice, and something unregistered wrote."""
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", "correct horse battery staple")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    work = tmp_path / "ws"
    work.mkdir()
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    catalog.init_catalog(url)
    tokens = {}
    with catalog.Catalog.connect(url) as cat:
        cat.bootstrap_admin("root", PASSWORD)
        cat.record_user("po1", role="privacy_officer", actor="root")
        cat.record_user("alice", role="researcher", actor="root")
        for user in ("po1", "alice"):
            cat.set_password(user, PASSWORD, actor="root")
            tokens[user] = cat.login(user, PASSWORD)
        cat.audit("mallory", "release.download", "dp-table", {})
    made = runner.invoke(app, ["audit", "key", "create", "--workdir", str(work)])
    assert made.exit_code == 0, made.output

    def run(user: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("PSEUDOLINK_SESSION", tokens[user])
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        return result.exit_code, " ".join(result.output.split())

    return run


def test_an_officer_sees_each_actor_with_role_and_actions_and_strangers_named(ws):
    code, out = ws("po1", "audit", "verify", "--by-actor")
    assert code == 0, out
    assert "audit log intact" in out
    assert "root │ admin │ user.bootstrap_admin" in out
    assert "po1 │ privacy_officer" in out
    assert "mallory │ NOT REGISTERED │ release.download" in out
    assert "actors not registered in the catalog: mallory" in out


def test_a_researcher_may_not_read_who_did_what(ws):
    code, out = ws("alice", "audit", "verify", "--by-actor")
    assert code == 2
    assert "audit.read refused" in out
    assert "mallory" not in out
