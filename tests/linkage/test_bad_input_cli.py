"""Bad input through the CLI: exit code 2, a message naming where, and no output file."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from pseudolink.cli import holder, project, project_accept  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE, SPEC, SSIS_CSV


def _run(work, *args):
    return CliRunner().invoke(app, [*args, "--workdir", str(work)])


def test_unknown_identifier_kind_exits_2_naming_line_and_column(tmp_path, party_keys,
                                                                 monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    spec = tmp_path / "project.toml"
    spec.write_text(SPEC.replace('gender = "sex"', 'gender = "gendr"'), encoding="utf-8")
    result = _run(work, "project", "create", "--spec", str(spec))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "project.toml, line 8, column 'gender'" in text
    assert "unknown identifier kind 'gendr'" in text
    assert not (work / "data").exists() and not (work / "keys" / "projects").exists()


def test_nul_byte_via_cli_exits_2_and_writes_nothing(tmp_path, party_keys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    assert _run(work, "project", "create", "--spec", str(tmp_path / "project.toml")
                ).exit_code == 0
    for holder_id in ("ssis", "building"):
        assert _run(work, "project", "accept", "--project", "housing-test", "--holder",
                    holder_id, "--yes").exit_code == 0
    bad = tmp_path / "ssis.csv"
    bad.write_bytes(SSIS_CSV.replace("용산구", "용산\x00구").encode("utf-8"))
    out = tmp_path / "out"
    result = _run(work, "holder", "prepare", "--project", "housing-test", "--holder", "ssis",
                  "--input", str(bad), "--out", str(out))
    assert result.exit_code == 2
    assert "row 4, column 'sigungu'" in " ".join(result.output.split())
    assert not out.exists() or not any(out.iterdir())
