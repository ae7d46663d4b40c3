"""`pseudolink airlock ...` as a researcher and two checkers run it."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
from typer.testing import CliRunner

import pseudolink.cli.airlock  # noqa: F401  (registers the `airlock` commands)
from pseudolink.cli.app import app

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
    shown = _run(workdir, "request", "tenure.csv", "--as", "kim", "--context", "table 3",
                 "--controls", "counts >= 10")
    request_id = re.search(r"(out-[0-9a-f]{8})", shown).group(1)
    assert "submitted" in shown
    assert request_id in _run(workdir, "list", "--as", "po1")
    assert "every published cell counts at least 10" in _run(workdir, "review", request_id,
                                                             "--as", "po1")
    _run(workdir, "vote", request_id, "approve", "--as", "po1")
    assert "approved" in _run(workdir, "vote", request_id, "approve", "--as", "po2")
    released = _run(workdir, "release", request_id, "--as", "po2")
    digest = hashlib.sha256((outputs / "tenure.csv").read_bytes()).hexdigest()
    assert (workdir / "airlock" / "outbox" / "kim" / digest / "tenure.csv").exists()
    assert "released" in released
