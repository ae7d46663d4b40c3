"""`pseudolink airlock ...` as a researcher and two checkers run it."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
from typer.testing import CliRunner

import pseudolink.cli.airlock  # noqa: F401  (registers the `airlock` commands)
from pseudolink.cli.app import app
from tests.accounts import log_in

runner = CliRunner()


def _run(workdir, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["airlock", *args, "--workdir", str(workdir)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def test_outputs_leave_by_the_cli_after_two_checkers(tmp_path, cat, catalog_url, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", catalog_url)
    workdir = tmp_path / "ws"
    outputs = workdir / "room" / "kim" / "outputs"
    outputs.mkdir(parents=True)
    pd.DataFrame({"owner": [25, 40, 65], "Total": [25, 40, 65]},
                 index=["Jongno", "Jung", "Total"]).to_csv(outputs / "tenure.csv")
    log_in(cat, monkeypatch, "kim")
    shown = _run(workdir, "request", "tenure.csv", "--context", "table 3",
                 "--controls", "counts >= 10")
    request_id = re.search(r"(out-[0-9a-f]{8})", shown).group(1)
    assert "submitted" in shown
    log_in(cat, monkeypatch, "po1")
    assert request_id in _run(workdir, "list")
    assert "every published cell counts at least 10" in _run(workdir, "review", request_id)
    _run(workdir, "vote", request_id, "approve")
    log_in(cat, monkeypatch, "po2")
    assert "approved" in _run(workdir, "vote", request_id, "approve")
    released = _run(workdir, "release", request_id)
    digest = hashlib.sha256((outputs / "tenure.csv").read_bytes()).hexdigest()
    assert (workdir / "airlock" / "outbox" / "kim" / digest / "tenure.csv").exists()
    assert "released" in released


def test_one_checker_cannot_cast_both_votes(tmp_path, cat, catalog_url, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", catalog_url)
    workdir = tmp_path / "ws"
    outputs = workdir / "room" / "kim" / "outputs"
    outputs.mkdir(parents=True)
    pd.DataFrame({"owner": [25, 40, 65], "Total": [25, 40, 65]},
                 index=["Jongno", "Jung", "Total"]).to_csv(outputs / "tenure.csv")
    log_in(cat, monkeypatch, "kim")
    shown = _run(workdir, "request", "tenure.csv", "--context", "t", "--controls", "c")
    request_id = re.search(r"(out-[0-9a-f]{8})", shown).group(1)
    log_in(cat, monkeypatch, "po1")
    _run(workdir, "vote", request_id, "approve")
    # Naming the other checker is no longer possible: the voter is the session's person.
    result = runner.invoke(app, ["airlock", "vote", request_id, "approve", "--as", "po2",
                                 "--workdir", str(workdir)])
    assert result.exit_code == 2 and "No such option: --as" in result.output
    second = runner.invoke(app, ["airlock", "vote", request_id, "approve",
                                 "--workdir", str(workdir)])
    assert second.exit_code != 0
    assert "approved" not in _run(workdir, "review", request_id)


def test_airlock_commands_refuse_anyone_not_logged_in(tmp_path, cat, catalog_url, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", catalog_url)
    monkeypatch.delenv("PSEUDOLINK_SESSION", raising=False)
    output = _run(tmp_path / "ws", "list", code=2)
    assert "not logged in: run `pseudolink login`" in output
