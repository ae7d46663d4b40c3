"""`pseudolink init --admin`, `login`, `whoami`, `logout`: a person's session, not free text."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog
from catalog.identity import HASHING_SETTING
from pseudolink.cli import app
from pseudolink.cli.session import acting_user
from pseudolink.settings import workspace

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_SESSION", raising=False)
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PSEUDOLINK_SESSION_HOURS", raising=False)


def _run(*args: str, stdin: str | None = None, code: int = 0) -> str:
    result = runner.invoke(app, list(args), input=stdin, env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    _run("init", "--workdir", str(root), "--admin", "ada", "--password-stdin",
         stdin=PASSWORD + "\n")
    return root


def _login(ws: Path, user: str, password: str, code: int = 0) -> str:
    return _run("login", "--user", user, "--password-stdin", "--workdir", str(ws),
                stdin=password + "\n", code=code)


def test_the_first_admin_is_created_once_and_logs_in(ws: Path) -> None:
    assert "logged in as ada (admin)" in _login(ws, "ada", PASSWORD)
    session_file = ws / "session"
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    token = session_file.read_text().strip()
    assert len(token) >= 43  # 256 bits, base64url
    assert "ada (admin)" in _run("whoami", "--workdir", str(ws))
    with catalog.Catalog.connect(workspace(ws).database_url) as cat:
        assert [e["action"] for e in cat.audit_entries()[:1]] == ["user.bootstrap_admin"]
    # A second "first admin" is refused: the catalog has a user now.
    again = _run("init", "--workdir", str(ws), "--admin", "eve", "--password-stdin",
                 stdin=PASSWORD + "\n", code=2)
    assert "already has users" in again


def test_the_catalog_keeps_only_a_hash_of_the_session_token(ws: Path) -> None:
    _login(ws, "ada", PASSWORD)
    token = (ws / "session").read_text().strip()
    assert token.encode() not in (ws / "catalog.db").read_bytes()


def test_a_wrong_password_is_refused_with_exit_2_and_no_session(ws: Path) -> None:
    output = _login(ws, "ada", "not the password at all", code=2)
    assert "error: login refused for 'ada': wrong user name or password" in output
    assert "Traceback" not in output
    assert not (ws / "session").exists()


def test_five_wrong_passwords_lock_the_account_with_a_clear_message(ws: Path) -> None:
    for _ in range(5):
        _login(ws, "ada", "a wrong guess here", code=2)
    output = _login(ws, "ada", PASSWORD, code=2)
    assert "too many failed logins for account 'ada': locked out until" in output


def test_commands_refuse_without_a_login(ws: Path) -> None:
    output = _run("whoami", "--workdir", str(ws), code=2)
    assert "error: not logged in: run `pseudolink login`" in output


def test_logout_ends_the_session_everywhere(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _login(ws, "ada", PASSWORD)
    token = (ws / "session").read_text().strip()
    _run("logout", "--workdir", str(ws))
    assert not (ws / "session").exists()
    monkeypatch.setenv("PSEUDOLINK_SESSION", token)  # a copy of the token kept elsewhere
    assert "session ended" in _run("whoami", "--workdir", str(ws), code=2)


def test_an_expired_session_is_refused(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import update

    from catalog.coltypes import utcnow
    from catalog.models import LoginSession

    _login(ws, "ada", PASSWORD)
    with catalog.Catalog.connect(workspace(ws).database_url) as cat, cat._write() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow()))
    assert "session expired" in _run("whoami", "--workdir", str(ws), code=2)


def test_a_deactivated_user_is_refused_as_unknown(ws: Path) -> None:
    _login(ws, "ada", PASSWORD)
    with catalog.Catalog.connect(workspace(ws).database_url) as cat:
        cat.record_user("bo", role="admin", actor="ada")
        cat.set_password("bo", PASSWORD, actor="ada")
        token = cat.login("bo", PASSWORD)
        cat.deactivate_user("ada", actor="bo")
    output = _run("whoami", "--workdir", str(ws), code=2)
    assert "session ended" in output or "unknown user" in output
    with catalog.Catalog.connect(workspace(ws).database_url) as cat:
        assert cat.session_user(token).id == "bo"


def test_a_session_file_readable_by_others_is_refused(ws: Path) -> None:
    _login(ws, "ada", PASSWORD)
    (ws / "session").chmod(0o644)
    assert "readable by others" in _run("whoami", "--workdir", str(ws), code=2)


def test_acting_user_is_the_sessions_person(ws: Path) -> None:
    _login(ws, "ada", PASSWORD)
    assert acting_user(workspace(ws)) == "ada"


def test_the_session_lifetime_is_a_workspace_setting(ws: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSEUDOLINK_SESSION_HOURS", "0.5")
    assert "the session lasts 0.5 h" in _login(ws, "ada", PASSWORD)
    monkeypatch.setenv("PSEUDOLINK_SESSION_HOURS", "forever")
    assert "session_hours must be a number" in _login(ws, "ada", PASSWORD, code=2)
