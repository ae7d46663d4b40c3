"""`catalog request risk` and `catalog committee appoint|vote`: the review as CLI verbs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import anonymize
import catalog
from catalog.coltypes import utcnow
from catalog.identity import HASHING_SETTING
from pseudolink.cli import catalog_review  # noqa: F401
from pseudolink.cli.app import app

PASSWORD = "a long test password"
QI = ["ssis__sido", "ssis__sex"]
CLASSES = {"ssis__sido": "quasi_identifier", "ssis__sex": "quasi_identifier",
           "ssis__benefit_type": "sensitive"}


def _data(path: Path, rows: int = 300) -> Path:
    rng = np.random.default_rng(3)
    pd.DataFrame({"ssis__sido": rng.choice(["서울특별시", "부산광역시"], rows),
                  "ssis__sex": rng.choice(["F", "M"], rows),
                  "ssis__benefit_type": rng.choice(["기초연금", "none"], rows)}).to_parquet(path)
    return path


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A take-out request `export-1` by alice, under review by po1."""
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    work = tmp_path / "ws"
    work.mkdir()
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    catalog.init_catalog(url)
    tokens = {}
    with catalog.Catalog.connect(url) as cat:
        cat.bootstrap_admin("root", PASSWORD)
        for org in ("uni", "agency"):
            cat.record_organisation(org, name=org, actor="root")
        cat.record_user("alice", role="researcher", organisation_id="uni", actor="root")
        for n in (1, 2, 3):
            cat.record_user(f"po{n}", role="privacy_officer", organisation_id="agency",
                            actor="root")
        for user in ("alice", "po1", "po2", "po3"):
            cat.set_password(user, PASSWORD, actor="root")
            tokens[user] = cat.login(user, PASSWORD)
        cat.register_dataset("combined", title="Combined", path=str(_data(
            tmp_path / "combined.parquet")), columns=CLASSES, project_id=None, lineage={},
            actor="root")
        cat.create_request("export-1", dataset_id="combined", columns=list(CLASSES),
                           release_form="take_out", purpose="scientific_research",
                           lawful_basis="PIPA art. 28-2", researchers=[],
                           setting="the university's server", outputs="an extract",
                           ends_at=utcnow() + timedelta(days=30), actor="alice")
        cat.submit_request("export-1", actor="alice")
        cat.start_review("export-1", actor="po1")
    runner = CliRunner()

    def run(user: str, *args: str, code: int = 0) -> str:
        monkeypatch.setenv("PSEUDOLINK_SESSION", tokens[user])
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    run.url = url  # type: ignore[attr-defined]
    return run


def _request(url: str) -> catalog.RequestInfo:
    with catalog.Catalog.connect(url) as cat:
        return cat.get_request("export-1")


def test_an_officer_attaches_the_measured_report_and_a_committee_decides(ws, tmp_path):
    out = ws("po1", "catalog", "request", "risk", "export-1")
    assert "risk report attached (k = " in out
    assert _request(ws.url).risk_report["k"] >= 1
    ws("po1", "catalog", "committee", "appoint", "export-1", "--member", "po1", "--member",
       "po2", "--member", "po3")
    assert _request(ws.url).committee == ["po1", "po2", "po3"]
    # The committee judges the anonymised extract's report, read from `risk --json`.
    frame = pd.read_parquet(tmp_path / "combined.parquet")
    report = anonymize.risk_report(frame, QI, ["ssis__benefit_type"]).to_dict()
    assert report["k"] >= 5  # two QIs with two values each over 300 rows
    (tmp_path / "report.json").write_text(json.dumps(report, default=str))
    ws("po1", "catalog", "request", "risk", "export-1", "--report",
       str(tmp_path / "report.json"))
    ws("po1", "catalog", "committee", "vote", "export-1", "approve", "--reason", "k >= 5")
    out = ws("po2", "catalog", "committee", "vote", "export-1", "approve", "--reason", "yes")
    assert "committee approved" in out
    assert _request(ws.url).state == "approved"


def test_a_researcher_can_neither_attach_a_report_nor_vote(ws):
    out = ws("alice", "catalog", "request", "risk", "export-1", code=2)
    assert "refused" in out
    out = ws("alice", "catalog", "committee", "vote", "export-1", "approve", "--reason", "mine",
             code=2)
    assert "refused" in out
    assert _request(ws.url).risk_report is None and _request(ws.url).votes == []


def test_a_report_that_is_not_one_is_named_and_refused(ws, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"rows": 3}')
    out = ws("po1", "catalog", "request", "risk", "export-1", "--report", str(bad), code=2)
    assert f"{bad}: not a risk report" in out
    out = ws("po1", "catalog", "request", "risk", "export-1", "--report",
             str(tmp_path / "absent.json"), code=2)
    assert "absent.json: file not found" in out


def test_a_vote_outside_the_allowed_values_lists_them(ws):
    out = ws("po1", "catalog", "committee", "vote", "export-1", "maybe", "--reason", "hmm",
             code=2)
    assert "one of approve, reject, abstain" in out
