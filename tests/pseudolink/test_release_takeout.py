"""`pseudolink release takeout --request R`: only an approved take-out, only to its requester."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyrage
import pytest
from typer.testing import CliRunner

import anonymize
import catalog
from catalog.coltypes import utcnow
from catalog.identity import HASHING_SETTING
from pseudolink.cli import catalog_governance, release_takeout  # noqa: F401
from pseudolink.cli.app import app
from tests.catalog.conftest import RISK

PASSWORD = "a long test password"
COLUMNS = ["ssis__sido", "ssis__sex", "ssis__birth_year", "ssis__benefit_type"]
CLASSES = {"name": "direct_identifier", "ssis__sido": "quasi_identifier",
           "ssis__sex": "quasi_identifier", "ssis__birth_year": "quasi_identifier",
           "ssis__benefit_type": "sensitive", "building__use": "other"}


def _combined(path: Path, rows: int = 400) -> Path:
    rng = np.random.default_rng(7)
    pd.DataFrame({
        "name": [f"person {i}" for i in range(rows)],
        "ssis__sido": rng.choice(["서울특별시", "부산광역시", "대구광역시"], rows),
        "ssis__sex": rng.choice(["F", "M"], rows),
        "ssis__birth_year": rng.integers(1940, 2000, rows),
        "ssis__benefit_type": rng.choice(["기초연금", "장애인복지", "none"], rows),
        "building__use": rng.choice(["apartment", "house"], rows),
    }).to_parquet(path)
    return path


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace with an approved take-out request ``export-1`` by alice."""
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    work = tmp_path / "ws"
    work.mkdir()
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    catalog.init_catalog(url)
    identity = pyrage.x25519.Identity.generate()
    tokens = {}
    with catalog.Catalog.connect(url) as cat:
        cat.bootstrap_admin("root", PASSWORD)
        for org in ("uni-a", "agency", "uni-b"):
            cat.record_organisation(org, name=org, actor="root")
        cat.record_user("alice", role="researcher", organisation_id="uni-a", actor="root")
        for n in range(1, 5):
            cat.record_user(f"po{n}", role="privacy_officer", actor="root",
                            organisation_id="agency" if n % 2 else "uni-b")
        for user in ("alice", "po1"):
            cat.set_password(user, PASSWORD, actor="root")
            tokens[user] = cat.login(user, PASSWORD)
        cat.set_age_recipient("alice", str(identity.to_public()), actor="root")
        cat.record_project("housing", purpose="scientific_research", mode="exact",
                           spec={"holders": [{"id": "ssis"}]}, actor="root")
        cat.register_dataset("combined", title="Combined", path=str(_combined(
            tmp_path / "combined.parquet")), columns=CLASSES, project_id="housing",
            lineage={}, actor="root")
        for request_id, form in (("export-1", "take_out"), ("room-1", "secure_room")):
            cat.create_request(
                request_id, dataset_id="combined", columns=COLUMNS, release_form=form,
                purpose="scientific_research", lawful_basis="PIPA art. 28-2",
                researchers=["alice"], setting="take-out to the university",
                outputs="tables", ends_at=utcnow() + timedelta(days=30), actor="alice",
                project_id="housing")
            cat.submit_request(request_id, actor="alice")
            cat.start_review(request_id, actor="po1")
        cat.attach_risk_report("export-1", RISK, actor="po1")
        cat.appoint_committee("export-1", ["po2", "po3", "po4"], actor="po1")
        for member in ("po2", "po3"):
            cat.vote("export-1", "approve", reason="k >= 5 holds", actor=member)
        cat.decide_request("room-1", "approve", reason="room only", actor="po1",
                           risk_report=RISK)
        assert cat.get_request("export-1").state == "approved"
    runner = CliRunner()

    def run(user: str, *args: str, code: int = 0) -> str:
        monkeypatch.setenv("PSEUDOLINK_SESSION", tokens[user])
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    run.url, run.work, run.identity = url, work, identity  # type: ignore[attr-defined]
    return run


def test_takeout_is_the_requested_columns_anonymised_and_encrypted_to_the_requester(ws):
    printed = ws("po1", "release", "takeout", "--request", "export-1")
    assert "encrypted to alice's age key" in printed
    sealed = ws.work / "releases" / "takeout-export-1.parquet.age"
    assert b"PAR1" not in sealed.read_bytes()  # never in the clear on disk
    extract = pq.read_table(io.BytesIO(pyrage.decrypt(sealed.read_bytes(), [ws.identity])))
    frame = extract.to_pandas()
    assert list(frame.columns) == COLUMNS  # not the name, not the unrequested column
    measured = anonymize.risk_report(frame, COLUMNS[:3], COLUMNS[3]).to_dict()
    assert measured["k"] >= 5 and measured["prosecutor_risk_max"] <= 0.2
    with catalog.Catalog.connect(ws.url) as cat:
        assert "takeout-export-1" not in [r.id for r in cat.open_releases()]
        recorded = [e for e in cat.audit_entries() if e["action"] == "release.record"][-1]
        assert recorded["actor"] == "po1"
        assert recorded["details"]["request_id"] == "export-1"
        assert recorded["details"]["checksum"] == hashlib.sha256(
            sealed.read_bytes()).hexdigest()
        assert [a.kind for a in cat.artefacts("housing")] == ["takeout"]


def test_the_debian_age_tool_decrypts_the_takeout(ws, tmp_path):
    if shutil.which("age") is None:
        pytest.skip("the age tool is not installed")
    ws("po1", "release", "takeout", "--request", "export-1")
    key = tmp_path / "alice.key"
    key.write_text(str(ws.identity) + "\n")
    out = tmp_path / "extract.parquet"
    subprocess.run(["age", "-d", "-i", str(key), "-o", str(out),
                    str(ws.work / "releases" / "takeout-export-1.parquet.age")], check=True)
    assert pq.read_table(out).num_rows > 0


def test_takeout_is_refused_for_anything_but_an_approved_take_out(ws):
    assert "not a take-out" in ws("po1", "release", "takeout", "--request", "room-1", code=2)
    assert "release.record refused" in ws("alice", "release", "takeout", "--request",
                                          "export-1", code=2)
    ws("po1", "release", "takeout", "--request", "export-1")
    again = ws("po1", "release", "takeout", "--request", "export-1", code=2)
    assert "already answered" in again
    assert not list((ws.work / "releases").glob("*.tmp"))


def test_only_an_age_x25519_recipient_is_recorded_and_the_order_carries_it(ws):
    with catalog.Catalog.connect(ws.url) as cat:
        with pytest.raises(catalog.CatalogError, match="not an age X25519 recipient"):
            cat.set_age_recipient("alice", "ssh-ed25519 AAAA", actor="root")
        order = cat.takeout_order("export-1", actor="po1")
    assert order.recipient.startswith("age1") and order.k == 5
