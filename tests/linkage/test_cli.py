"""The DESIGN 5 verbs, exactly as written, on one workspace."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
from typer.testing import CliRunner

# Only the linkage commands: importing pseudolink.cli would load every subsystem.
from pseudolink.cli import combine, holder, link, party, project  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import BUILDING_CSV, PASSPHRASE, SPEC, SSIS_CSV


def test_cli_runs_prepare_link_combine_and_close(tmp_path, party_keys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_bytes(SSIS_CSV.encode("cp949"))
    (tmp_path / "building.csv").write_text(BUILDING_CSV, encoding="utf-8")
    out = tmp_path / "out"
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == 0, result.output
        return result.output

    run("party", "create", "--id", "agency", "--role", "combiner")
    run("project", "create", "--spec", str(tmp_path / "project.toml"))
    for holder_id in ("ssis", "building"):
        run("project", "accept", "--project", "housing-test", "--holder", holder_id, "--yes")
    for holder_id in ("ssis", "building"):
        printed = run("holder", "prepare", "--project", "housing-test", "--holder", holder_id,
                      "--input", str(tmp_path / f"{holder_id}.csv"), "--out", str(out))
        assert "홍길동" not in printed
    printed = run("link", "--project", "housing-test", "--keys", str(out / "ssis.keys.age"),
                  str(out / "building.keys.age"), "--out", str(out))
    assert "3 links" in printed
    run("combine", "--project", "housing-test", "--linkmap", str(out / "linkmap.age"),
        "--payloads", str(out / "ssis.payload.age"), str(out / "building.payload.age"),
        "--out", str(tmp_path / "combined.parquet"))
    assert pq.read_table(tmp_path / "combined.parquet").num_rows == 3
    run("project", "close", "--project", "housing-test")
    refused = runner.invoke(app, ["holder", "prepare", "--project", "housing-test", "--holder",
                                  "ssis", "--input", str(tmp_path / "ssis.csv"), "--out",
                                  str(out), "--workdir", str(work)])
    assert refused.exit_code == 2
    assert "closed" in refused.output


def test_spark_master_is_refused_without_the_spark_engine(tmp_path):
    # Checked before any work: an operator who names a cluster must not get a local run.
    result = CliRunner().invoke(app, [
        "combine", "--project", "p", "--linkmap", "linkmap.age", "--payloads", "a.age",
        "--out", "c.parquet", "--spark-master", "spark://127.0.0.1:7077",
        "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "--spark-master needs --engine spark" in result.output
