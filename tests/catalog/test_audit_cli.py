"""`pseudolink audit verify|export` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog
import pseudolink.cli.audit  # noqa: F401  (registers the `audit` commands)
from pseudolink.cli.app import app
from tests.catalog.conftest import tamper

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, cat: catalog.Catalog, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    for i in range(3):
        cat.audit("officer", "download", f"release-{i}", {"i": i})
    return tmp_path / "ws"


def test_audit_verify_reports_an_intact_log(workdir: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    assert "audit log intact: 3 entries" in result.output


def test_audit_verify_exits_1_and_names_the_changed_entry(workdir: Path,
                                                          database_url: str) -> None:
    tamper(database_url, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(workdir)])
    assert result.exit_code == 1
    assert "entry seq 2" in result.output
    assert "entry changed" in result.output


def test_audit_export_writes_one_line_per_entry(workdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", "--out", str(out), "--workdir",
                                 str(workdir)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [entry["target"] for entry in lines] == ["release-0", "release-1", "release-2"]


def test_audit_verify_on_a_missing_catalog_says_run_init(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(tmp_path / "none")])
    assert isinstance(result.exception, catalog.CatalogError)
    assert "run `pseudolink init`" in str(result.exception)
