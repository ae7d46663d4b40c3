"""A party's keys are only as safe as its passphrase: a floor, and a file for automation."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import linkage
from pseudolink.cli import party  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE


@pytest.mark.parametrize("weak", ["a", "password1234", "qwertyuiop12", "aaaaaaaaaaaaaaaa"])
def test_weak_passphrase_is_refused(tmp_path, monkeypatch, weak):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", weak)
    result = CliRunner().invoke(app, ["party", "create", "--id", "ssis", "--role", "holder",
                                      "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: the passphrase is too")
    assert "Traceback" not in result.output
    assert not list((tmp_path / "ws" / "keys").rglob("*.secret.key"))


def test_weak_passphrase_is_refused_by_the_library_too(tmp_path):
    with pytest.raises(linkage.LinkageError, match="too short"):
        linkage.create_party(tmp_path, "ssis", "holder", "a")


def test_passphrase_file_unlocks_keys_for_automated_deployments(tmp_path, monkeypatch):
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    monkeypatch.delenv("PSEUDOLINK_PASSPHRASE", raising=False)
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE_FILE", str(secret))
    result = CliRunner().invoke(app, ["party", "create", "--id", "ssis", "--role", "holder",
                                      "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    # The trailing newline is not part of the passphrase.
    assert linkage.load_party_secret(tmp_path / "ws" / "keys", "ssis", PASSPHRASE).id == "ssis"


def test_passphrase_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE, encoding="utf-8")
    secret.chmod(0o644)
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE_FILE", str(secret))
    result = CliRunner().invoke(app, ["party", "create", "--id", "ssis", "--role", "holder",
                                      "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "readable by others" in result.output and "chmod 600" in result.output
    assert PASSPHRASE not in result.output
