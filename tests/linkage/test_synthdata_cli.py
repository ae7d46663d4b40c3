"""``pseudolink synth-data`` writes the files and a summary that names no one."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from pseudolink.cli import app


def test_synth_data_command_writes_files_and_prints_counts_only(tmp_path):
    out = tmp_path / "synth"
    result = CliRunner().invoke(app, ["synth-data", "--people", "1500", "--out", str(out),
                                      "--seed", "9", "--typo-rate", "0.05", "--chunk-size", "500"])
    assert result.exit_code == 0, result.output
    assert "1,500" in result.output
    ssis = pd.read_parquet(out / "ssis.parquet")
    building = pd.read_parquet(out / "building.parquet")
    for value in [*ssis["name"].head(50), *ssis["rrn"].head(50), *building["owner_rrn"].dropna()
                  .head(50)]:
        assert value not in result.output
    assert (out / "project.toml").exists() and (out / "truth.parquet").exists()


def test_synth_data_command_writes_csv_when_asked(tmp_path):
    result = CliRunner().invoke(app, ["synth-data", "--people", "300", "--out", str(tmp_path),
                                      "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ssis.csv").read_text(encoding="utf-8").startswith('"record_id"')
