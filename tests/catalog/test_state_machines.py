"""One state-machine core for access and airlock requests: its tables, its checks, its docs.

The expected tables are written out by hand: a move added, or a right widened, in the
code makes them disagree.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

import catalog
from analysis_env import Airlock
from catalog import diagrams
from tests.catalog.conftest import make_request

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"

#: from, to, audit action, roles allowed, who (owner / others / system).
ACCESS_TABLE = """
draft        submitted    request.submit       researcher               owner
submitted    under_review request.start_review privacy_officer          others
under_review approved     request.approve      privacy_officer          others
under_review rejected     request.reject       privacy_officer          others
approved     active       request.activate     admin,privacy_officer    others
active       expired      request.expire       -                        system
active       revoked      request.revoke       privacy_officer          others
submitted    draft        request.withdraw     researcher               owner
under_review draft        request.withdraw     researcher               owner
rejected     draft        request.amend        researcher               owner
"""

AIRLOCK_TABLE = """
submitted    approved     airlock.approved     privacy_officer          others
submitted    returned     airlock.returned     privacy_officer          others
submitted    rejected     airlock.rejected     privacy_officer          others
returned     submitted    airlock.submitted    researcher               owner
submitted    withdrawn    airlock.withdrawn    researcher               owner
returned     withdrawn    airlock.withdrawn    researcher               owner
approved     released     airlock.release      privacy_officer          others
"""


def _rows(table: str) -> list[tuple[str, str, str, frozenset[str], str]]:
    rows = []
    for line in table.strip().splitlines():
        source, target, action, roles, who = line.split()
        rows.append((source, target, action,
                     frozenset() if roles == "-" else frozenset(roles.split(",")), who))
    return rows


@pytest.mark.parametrize(("machine", "table"), [(catalog.ACCESS, ACCESS_TABLE),
                                                (catalog.AIRLOCK, AIRLOCK_TABLE)])
def test_each_machine_is_exactly_its_written_table(machine: catalog.Machine,
                                                   table: str) -> None:
    assert [(t.source, t.target, t.action, t.roles, t.who)
            for t in machine.transitions] == _rows(table)


@pytest.mark.parametrize("machine", [catalog.ACCESS, catalog.AIRLOCK])
def test_every_pair_of_states_is_legal_only_if_in_the_table(machine: catalog.Machine) -> None:
    for source, target in itertools.product(machine.states, repeat=2):
        if (source, target) in machine.table:
            assert machine.step(source, target, "x").target == target
        else:
            with pytest.raises(catalog.IllegalTransition,
                               match=f"is {source} and cannot become {target}"):
                machine.step(source, target, "x")


def test_docs_show_the_diagrams_the_tables_generate() -> None:
    assert diagrams.generated_part(DOC.read_text(encoding="utf-8")) == diagrams.render(), (
        "docs/catalog.md is out of date: run `python -m catalog.diagrams docs/catalog.md`")
    for _, machine in diagrams.MACHINES:
        assert machine.mermaid().count("-->") == (len(machine.transitions) + 1
                                                  + len(machine.final_states))


# -- the airlock's rules, enforced by the catalog itself ----------------------------------

SAFE = pd.DataFrame({"owner": [25, 40, 65], "tenant": [12, 31, 43]},
                    index=["Jongno", "Jung", "Mapo"])


@pytest.fixture
def submitted(cat: catalog.Catalog, people: dict, tmp_path: Path) -> tuple[Airlock, str]:
    """alice, with an active room grant in project housing-2026, asks for one table."""
    make_request(cat, "grant-1", state="active")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    SAFE.to_csv(outputs / "tenure.csv")
    airlock = Airlock(tmp_path / "airlock", cat)
    airlock.request("alice", outputs, ["tenure.csv"], context="tenure by district",
                    controls="counts of 10 or more", request_id="out-1")
    return airlock, "out-1"


def test_one_person_cannot_cast_both_votes(cat, submitted) -> None:
    records = catalog.AirlockRecords(cat)
    records.vote("out-1", "approve", actor="po1", reason="fine")
    with pytest.raises(catalog.CatalogError, match="already voted"):
        records.vote("out-1", "approve", actor="po1", reason="again")
    assert records.get("out-1").state == "submitted"
    assert [v.checker for v in records.get("out-1").files[0].votes] == ["po1"]


def test_the_requester_and_non_officers_cannot_vote_even_through_the_library(
        cat, submitted) -> None:
    records = catalog.AirlockRecords(cat)
    for actor in ("alice", "bob", "root", "hana", "nobody-at-all"):
        with pytest.raises(catalog.PermissionRefused):
            records.vote("out-1", "approve", actor=actor, reason="mine")
    assert records.get("out-1").files[0].votes == []
    refused = [e for e in cat.audit_entries() if e["action"] == "access.refused"]
    assert {e["actor"] for e in refused} >= {"alice", "bob", "root", "hana"}


def test_only_the_author_resubmits_or_withdraws(cat, submitted) -> None:
    records = catalog.AirlockRecords(cat)
    for actor in ("bob", "po1"):
        with pytest.raises(catalog.PermissionRefused):
            records.move("out-1", "withdrawn", actor=actor)
    assert records.move("out-1", "withdrawn", actor="alice").state == "withdrawn"


def test_the_decision_is_a_project_stage_under_the_deciding_checker(cat, submitted) -> None:
    airlock, request_id = submitted
    airlock.vote(request_id, "approve", actor="po1", reason="")
    assert airlock.vote(request_id, "approve", actor="po2", reason="").state == "approved"
    (decision,) = [s for s in cat.project_status("housing-2026").stages
                   if s["stage"] == "airlock_decision"]
    assert decision["actor"] == "po2" and decision["files"] == 1
    entry = next(e for e in cat.audit_entries() if e["action"] == "stage.airlock_decision")
    digest = catalog.AirlockRecords(cat).get(request_id).files[0].sha256
    assert entry["details"]["files"] == [{"kind": "airlock_output", "path": "tenure.csv",
                                          "sha256": digest}]
    assert entry["details"]["decision"] == "approved"
    airlock.release(request_id, actor="po1")
    assert [(e["actor"], e["action"]) for e in cat.audit_entries()
            if e["target"] == request_id][-2:] == [("po2", "airlock.approved"),
                                                   ("po1", "airlock.release")]
    assert cat.verify_audit().ok
