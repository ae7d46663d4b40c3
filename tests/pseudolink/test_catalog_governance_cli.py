"""`catalog dataset register|search`, `project retain` and `catalog sweep` (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import catalog
from catalog.identity import HASHING_SETTING
from pseudolink.cli import catalog_governance, project  # noqa: F401
from pseudolink.cli.app import app

PASSWORD = "a long test password"
USERS = {"choi": "combiner", "po1": "privacy_officer", "alice": "researcher"}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace whose catalog has an admin, a combiner, an officer and a researcher."""
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    work = tmp_path / "ws"
    work.mkdir()
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    catalog.init_catalog(url)
    tokens = {}
    with catalog.Catalog.connect(url) as cat:
        cat.bootstrap_admin("root", PASSWORD)
        for user, role in USERS.items():
            cat.record_user(user, role=role, actor="root")
            cat.set_password(user, PASSWORD, actor="root")
        for user in ("root", *USERS):
            tokens[user] = cat.login(user, PASSWORD)
        cat.record_project("housing", purpose="statistics", mode="exact",
                           spec={"holders": [{"id": "ssis"}]}, actor="root")
    runner = CliRunner()

    def run(user: str | None, *args: str, code: int = 0) -> str:
        if user is None:
            monkeypatch.delenv("PSEUDOLINK_SESSION", raising=False)
        else:
            monkeypatch.setenv("PSEUDOLINK_SESSION", tokens[user])
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    run.url, run.work = url, work  # type: ignore[attr-defined]
    return run


@pytest.fixture
def combined(tmp_path: Path) -> Path:
    path = tmp_path / "combined.parquet"
    pd.DataFrame({"link_id": ["a", "b"], "ssis__sido": ["서울", "부산"],
                  "ssis__benefit_type": ["x", "y"]}).to_parquet(path)
    return path


def test_registered_dataset_is_found_by_title_or_column(ws, combined) -> None:
    printed = ws("choi", "catalog", "dataset", "register", "housing-combined", "--file",
                 str(combined), "--title", "주거 결합 데이터", "--project", "housing",
                 "--column", "link_id=other", "--column", "ssis__sido=quasi_identifier",
                 "--column", "ssis__benefit_type=sensitive")
    assert "3 columns" in printed
    assert "housing-combined" in ws(None, "catalog", "dataset", "search", "결합")
    assert "housing-combined" in ws(None, "catalog", "dataset", "search", "BENEFIT")
    assert "no dataset matches" in ws(None, "catalog", "dataset", "search", "nothing-like")
    with catalog.Catalog.connect(ws.url) as cat:
        info = cat.dataset("housing-combined")
        entry = [e for e in cat.audit_entries() if e["action"] == "dataset.register"][-1]
    assert info.columns["ssis__sido"] == "quasi_identifier"
    assert info.project_id == "housing" and len(info.lineage["file_sha256"]) == 64
    assert entry["actor"] == "choi"


def test_register_refuses_an_unclassified_column_naming_it(ws, combined) -> None:
    printed = ws("choi", "catalog", "dataset", "register", "d", "--file", str(combined),
                 "--title", "t", "--column", "link_id=other", code=2)
    assert printed.startswith("error:") and "ssis__sido, ssis__benefit_type" in printed
    printed = ws("choi", "catalog", "dataset", "register", "d", "--file", str(combined),
                 "--title", "t", "--column", "link_id=secret", code=2)
    assert "NAME=CLASS" in printed and "Traceback" not in printed


def test_rest_classifies_every_column_not_named(ws, combined) -> None:
    ws("choi", "catalog", "dataset", "register", "d", "--file", str(combined), "--title", "t",
       "--column", "ssis__sido=quasi_identifier", "--rest", "other")
    with catalog.Catalog.connect(ws.url) as cat:
        assert cat.dataset("d").columns == {"link_id": "other",
                                            "ssis__sido": "quasi_identifier",
                                            "ssis__benefit_type": "other"}


def test_a_researcher_may_not_register_a_dataset(ws, combined) -> None:
    printed = ws("alice", "catalog", "dataset", "register", "d", "--file", str(combined),
                 "--title", "t", "--column", "link_id=other", "--column",
                 "ssis__sido=other", "--column", "ssis__benefit_type=other", code=2)
    assert "dataset.register refused" in printed


def test_sweep_destroys_files_past_retention_and_needs_an_officer(ws, tmp_path) -> None:
    crosswalk = ws.work / "keys" / "ssis.crosswalk.parquet"
    crosswalk.parent.mkdir(parents=True)
    crosswalk.write_bytes(b"crosswalk")
    with catalog.Catalog.connect(ws.url) as cat:
        cat.record_user("hana", role="holder", actor="root")
        cat.record_stage("housing", "prepare", actor="hana", root=ws.work, holder="ssis",
                         outputs={"crosswalk": crosswalk})
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    ws("po1", "project", "retain", "--project", "housing", "--until", yesterday)
    assert "sweep.run refused" in ws("alice", "catalog", "sweep", code=2)
    assert crosswalk.exists()
    printed = ws("po1", "catalog", "sweep")
    assert "1 file(s) of 1 project(s) past retention destroyed" in printed
    assert not crosswalk.exists()
    status = ws("po1", "project", "status", "--project", "housing")
    assert "destroyed" in status and "crosswalk" in status


def test_retain_refuses_a_bad_date_with_one_error_line(ws) -> None:
    printed = ws("po1", "project", "retain", "--project", "housing", "--until", "31/12/2027",
                 code=2)
    assert printed.startswith("error:") and "YYYY-MM-DD" in printed
