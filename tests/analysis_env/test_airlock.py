"""The airlock's promises: held outputs stay in, two independent checkers, full audit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from analysis_env import TRANSITIONS, Airlock, AnalysisEnvError, diagram
from tests.conftest import fresh_postgres_database

SAFE = pd.DataFrame({"owner": [25, 40, 65], "tenant": [12, 31, 43], "Total": [37, 71, 108]},
                    index=["Jongno", "Jung", "Total"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The airlock's records live in the catalog: every test here runs on both databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    folder = tmp_path / "room" / "kim" / "outputs"
    folder.mkdir(parents=True)
    SAFE.to_csv(folder / "tenure.csv")
    pd.DataFrame({"owner": [25, 3]}, index=["Jongno", "Jung"]).to_csv(folder / "small.csv")
    return folder


@pytest.fixture
def airlock(tmp_path: Path, cat) -> Airlock:
    return Airlock(tmp_path / "airlock", cat)


def _request(airlock: Airlock, outputs: Path, files=("tenure.csv",), **kw):
    return airlock.request("kim", outputs, list(files), context="tenure by district",
                           controls="counts of 10 or more, margins checked", **kw)


def test_safe_table_leaves_only_after_two_independent_approvals(airlock, outputs, cat):
    request = _request(airlock, outputs, request_id="out-1")
    assert request.state == "submitted" and not request.files[0].held
    airlock.vote("out-1", "approve", actor="po1", reason="")
    with pytest.raises(AnalysisEnvError, match="cannot become released"):
        airlock.release("out-1", actor="po1")
    assert airlock.view("out-1", actor="po1").state == "submitted"
    after = airlock.vote("out-1", "approve", actor="po2", reason="")
    assert after.state == "approved"
    released = airlock.release("out-1", actor="po2")
    digest = hashlib.sha256((outputs / "tenure.csv").read_bytes()).hexdigest()
    assert released == [airlock.outbox("kim") / digest / "tenure.csv"]
    assert released[0].read_bytes() == (outputs / "tenure.csv").read_bytes()
    assert airlock.view("out-1", actor="kim").state == "released"


def test_author_never_reviews_their_own_request(airlock, outputs, cat):
    cat.record_user("kim2", role="privacy_officer", actor="root")
    request = airlock.request("kim", outputs, ["tenure.csv"], context="c", controls="c")
    with pytest.raises(AnalysisEnvError, match="not an output checker"):
        airlock.vote(request.id, "approve", actor="kim", reason="")
    airlock.vote(request.id, "approve", actor="po1", reason="")
    with pytest.raises(AnalysisEnvError, match="already voted"):
        airlock.vote(request.id, "approve", actor="po1", reason="")
    assert airlock.view(request.id, actor="po1").state == "submitted"


def test_table_with_a_cell_of_three_is_held_and_cannot_be_approved(airlock, outputs):
    request = _request(airlock, outputs, files=("small.csv",))
    (file,) = request.files
    assert file.held
    assert "cell (Jung, owner) counts 3, fewer than 10 units" in [c["reason"] for c in file.checks]
    with pytest.raises(AnalysisEnvError, match="held by the automatic checks"):
        airlock.vote(request.id, "approve", actor="po1", reason="")


def test_votes_stay_hidden_until_both_are_in(airlock, outputs):
    request = _request(airlock, outputs)
    airlock.vote(request.id, "approve", actor="po1", reason="")
    assert airlock.view(request.id, actor="po2").files[0].votes == []
    assert [v.checker for v in airlock.view(request.id, actor="po1").files[0].votes] == ["po1"]
    assert airlock.view(request.id, actor="kim").files[0].votes == []
    airlock.vote(request.id, "return", actor="po2", reason="round to 5")
    seen = airlock.view(request.id, actor="po1")
    assert seen.state == "returned"
    assert {v.checker for v in seen.files[0].votes} == {"po1", "po2"}


def test_an_edited_file_resets_its_votes(airlock, outputs):
    request = _request(airlock, outputs)
    airlock.vote(request.id, "approve", actor="po1", reason="")
    airlock.vote(request.id, "return", actor="po2", reason="round the totals")
    with pytest.raises(AnalysisEnvError, match="returned"):
        airlock.vote(request.id, "approve", actor="po2", reason="")
    (outputs / "tenure.csv").write_text(SAFE.to_csv().replace("Jongno", "Jongno-gu"))
    edited = airlock.update_file(request.id, outputs, "tenure.csv", actor="kim")
    assert edited.files[0].votes_in == 0
    airlock.resubmit(request.id, actor="kim")
    airlock.vote(request.id, "approve", actor="po1", reason="")
    assert airlock.vote(request.id, "approve", actor="po2", reason="").state == "approved"


def test_only_files_inside_outputs_may_leave(airlock, outputs, tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n")
    with pytest.raises(AnalysisEnvError, match="only files in the outputs folder"):
        airlock.request("kim", outputs, ["../../../secret.csv"], context="c", controls="c")


def test_every_view_vote_and_release_is_in_the_audit_log(airlock, outputs, cat):
    request = _request(airlock, outputs)
    airlock.view(request.id, actor="po1")
    airlock.vote(request.id, "approve", actor="po1", reason="")
    airlock.vote(request.id, "approve", actor="po2", reason="")
    airlock.release(request.id, actor="po1")
    trail = [(e["actor"], e["action"]) for e in cat.audit_entries()
             if e["target"] == request.id]
    assert trail == [("kim", "airlock.request"), ("po1", "airlock.view"),
                     ("po1", "airlock.vote"), ("po2", "airlock.vote"),
                     ("po2", "airlock.approved"), ("po1", "airlock.release")]
    assert cat.verify_audit().ok


def test_rejection_and_withdrawal_are_final(airlock, outputs):
    request = _request(airlock, outputs)
    airlock.vote(request.id, "reject", actor="po1", reason="not needed for the purpose")
    assert airlock.vote(request.id, "approve", actor="po2", reason="").state == "rejected"
    with pytest.raises(AnalysisEnvError, match="rejected is final"):
        airlock.release(request.id, actor="po1")
    other = _request(airlock, outputs)
    assert airlock.withdraw(other.id, actor="kim").state == "withdrawn"


def test_docs_show_the_transition_table_the_code_uses():
    doc = (Path(__file__).parents[2] / "docs" / "analysis-room.md").read_text(encoding="utf-8")
    assert diagram() in doc
    assert len(TRANSITIONS) == diagram().count("\n") - 1


def test_a_table_declared_as_free_text_is_refused_at_the_door(airlock, outputs):
    (outputs / "notes.txt").write_text(SAFE.to_csv(), encoding="utf-8")
    with pytest.raises(AnalysisEnvError, match=r"notes\.txt: declared text"):
        _request(airlock, outputs, files=("notes.txt",), kinds={"notes.txt": "text"})


def test_microdata_saved_as_a_table_is_held_and_cannot_be_approved(airlock, outputs):
    rows = pd.DataFrame({"sex": ["F", "M"] * 40, "birth_year": range(1940, 2020),
                         "district": ["Jongno", "Jung", "Mapo", "Guro"] * 20})
    rows.to_csv(outputs / "extract.csv", index=False)
    request = _request(airlock, outputs, files=("extract.csv",), request_id="out-m",
                       kinds={"extract.csv": "frequency_table"})
    assert request.files[0].held
    assert "microdata" in [c["check"] for c in request.files[0].checks if not c["ok"]]
    with pytest.raises(AnalysisEnvError, match="held by the automatic checks"):
        airlock.vote("out-m", "approve", actor="po1", reason="")


def test_a_magnitude_table_leaves_without_the_largest_contributions(airlock, outputs):
    from anonymize.outputs import magnitude_table

    incomes = pd.DataFrame({"district": ["Jongno", "Jung"] * 30,
                            "income": [3000 + 10 * i for i in range(60)]})
    magnitude_table(incomes, ["district"], "income").to_csv(outputs / "income.csv",
                                                            index=False)
    request = _request(airlock, outputs, files=("income.csv",), request_id="out-g")
    assert request.files[0].kind == "magnitude_table" and not request.files[0].held
    airlock.vote("out-g", "approve", actor="po1", reason="")
    airlock.vote("out-g", "approve", actor="po2", reason="")
    (released,) = airlock.release("out-g", actor="po2")
    assert list(pd.read_csv(released).columns) == ["district", "total", "contributors"]


#: The airlock's own database before migration 0006, as that version created it.
OLD_SCHEMA = """
CREATE TABLE requests (id TEXT PRIMARY KEY, author TEXT NOT NULL, state TEXT NOT NULL,
    context TEXT NOT NULL, controls TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE files (request_id TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
    kind TEXT NOT NULL, checks TEXT NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (request_id, name));
CREATE TABLE votes (request_id TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL,
    checker TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (request_id, name, sha256, checker));
"""


def test_an_old_airlock_db_is_carried_into_the_catalog_once(tmp_path, cat, outputs):
    import json
    import sqlite3

    root = tmp_path / "airlock"
    root.mkdir()
    digest = hashlib.sha256((outputs / "tenure.csv").read_bytes()).hexdigest()
    checks = json.dumps([{"check": "cells", "ok": True, "review": False, "reason": "ok"}])
    old = sqlite3.connect(root / "airlock.db")
    old.executescript(OLD_SCHEMA)
    at = "2026-12-01T09:00:00+00:00"
    old.execute("INSERT INTO requests VALUES ('out-old', 'kim', 'submitted', 'c', 'k', ?, ?)",
                (at, at))
    old.execute("INSERT INTO files VALUES ('out-old', 'tenure.csv', ?, 'frequency_table', ?, 9)",
                (digest, checks))
    old.execute("INSERT INTO votes VALUES ('out-old', 'tenure.csv', ?, 'po1', 'approve', '', ?)",
                (digest, at))
    old.commit()
    old.close()
    airlock = Airlock(root, cat)
    assert not (root / "airlock.db").exists() and (root / "airlock.db.imported").exists()
    request = airlock.view("out-old", actor="po1")
    assert (request.state, request.files[0].votes_in) == ("submitted", 1)
    # It carries on where it stood: the second checker's vote decides it.
    assert airlock.vote("out-old", "approve", actor="po2", reason="").state == "approved"
    (entry,) = [e for e in cat.audit_entries() if e["action"] == "airlock.imported"]
    assert entry["target"] == "out-old" and entry["details"]["votes"][0]["checker"] == "po1"
    Airlock(root, cat)  # nothing to import again
    assert len([e for e in cat.audit_entries() if e["action"] == "airlock.imported"]) == 1
