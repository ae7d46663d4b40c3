"""The audit log: every change leaves exactly one entry, and tampering is detected and named."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime

import pytest

import catalog
from catalog import audit as audit_module
from tests.catalog.conftest import tamper


def _fill(cat: catalog.Catalog, n: int) -> None:
    for i in range(n):
        cat.audit("officer", "download", f"release-{i}", {"bytes": 1000 + i, "note": "열람"})


def test_entry_hash_is_sha256_of_the_canonical_json() -> None:
    ts = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    canonical = ('{"action":"budget.spend","actor":"분석가","details":{"epsilon":0.5},'
                 '"prev_hash":"' + "0" * 64 + '","seq":1,"target":"d/c",'
                 '"ts":"2026-11-23T12:00:00.123456+00:00"}')
    expected = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert catalog.hashchain.entry_hash(1, ts, "분석가", "budget.spend", "d/c",
                                        {"epsilon": 0.5}, "0" * 64) == expected


def test_each_change_adds_one_entry_in_order(cat: catalog.Catalog, dataset: str) -> None:
    before = len(cat.audit_entries())
    cat.record_release("r1", dataset_id=dataset, form="take_out", title="t", artifact="/a",
                       checksum="c", parameters={"k": 5}, actor="officer")
    cat.revoke_release("r1", actor="officer", reason="k too low")
    cat.set_budget(dataset, "consumer-1", 2.0, actor="officer")
    cat.spend(dataset, "consumer-1", 0.5, query={"count_by": ["ssis__sido"]}, actor="api")
    cat.audit("researcher-7", "hub.login", "secure-room", {"ip": "10.0.0.7"})
    cat.close_project("housing-2026", actor="agency")
    entries = cat.audit_entries()
    assert [(e["action"], e["target"], e["actor"]) for e in entries[before:]] == [
        ("release.record", "r1", "officer"),
        ("release.revoke", "r1", "officer"),
        ("budget.set", f"{dataset}/consumer-1", "officer"),
        ("budget.spend", f"{dataset}/consumer-1", "api"),
        ("hub.login", "secure-room", "researcher-7"),
        ("project.close", "housing-2026", "agency"),
    ]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    assert cat.verify_audit() == catalog.AuditVerification(ok=True, entries=len(entries))


def test_failing_change_leaves_no_audit_entry(cat: catalog.Catalog, dataset: str) -> None:
    before = cat.audit_entries()
    with pytest.raises(catalog.CatalogError):
        cat.record_release("r1", dataset_id="missing", form="synthetic", title="t",
                           artifact="/a", checksum="c", parameters={}, actor="officer")
    with pytest.raises(catalog.CatalogError):
        cat.revoke_release("missing", actor="officer", reason="x")
    assert cat.audit_entries() == before


def test_failing_audit_append_undoes_the_change(cat: catalog.Catalog, dataset: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> str:
        raise RuntimeError("disk full while hashing")

    monkeypatch.setattr(audit_module, "entry_hash", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cat.record_release("r1", dataset_id=dataset, form="synthetic", title="t",
                           artifact="/a", checksum="c", parameters={}, actor="officer")
    monkeypatch.undo()
    assert cat.get_release("r1") is None
    assert cat.verify_audit().ok


def test_verify_names_an_entry_whose_details_changed_by_one_byte(
        cat: catalog.Catalog, database_url: str) -> None:
    _fill(cat, 5)
    victim = cat.audit_entries()[2]
    forged = json.dumps({**victim["details"], "bytes": victim["details"]["bytes"] + 1})
    tamper(database_url, "UPDATE audit_log SET details = :d WHERE seq = 3", d=forged)
    verdict = cat.verify_audit()
    assert not verdict.ok
    assert verdict.entries == 5
    assert verdict.problems == [
        f"entry seq 3 (id {victim['id']}): content does not match its hash (entry changed)"]


def test_verify_names_a_deleted_entry(cat: catalog.Catalog, database_url: str) -> None:
    _fill(cat, 5)
    tamper(database_url, "DELETE FROM audit_log WHERE seq = 2")
    verdict = cat.verify_audit()
    assert not verdict.ok and verdict.entries == 4
    assert verdict.problems[0].startswith("entry seq 3 ")
    assert "seq 2 missing" in verdict.problems[0]
    assert "prev_hash does not match" in verdict.problems[1]


def test_verify_notices_entries_deleted_from_the_end(cat: catalog.Catalog,
                                                     database_url: str) -> None:
    _fill(cat, 5)
    tamper(database_url, "DELETE FROM audit_log WHERE seq >= 4")
    verdict = cat.verify_audit()
    assert not verdict.ok
    assert verdict.problems == ["the chain head records seq 5 but the log ends at seq 3: "
                                "seq 4..5 missing (entries deleted from the end)"]


def test_verify_names_two_swapped_entries(cat: catalog.Catalog, database_url: str) -> None:
    _fill(cat, 6)
    # Move entry 4 before entry 3 by exchanging their sequence numbers.
    tamper(database_url, "UPDATE audit_log SET seq = -3 WHERE seq = 3")
    tamper(database_url, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    tamper(database_url, "UPDATE audit_log SET seq = 4 WHERE seq = -3")
    verdict = cat.verify_audit()
    assert not verdict.ok
    named = {problem.split(" (id")[0] for problem in verdict.problems}
    assert named == {"entry seq 3", "entry seq 4"}
    assert verdict.problems[0].startswith("entry seq 3 ")


def test_concurrent_appends_never_fork_the_chain(cat: catalog.Catalog) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(5):
                cat.audit(f"worker-{n}", "download", f"release-{i}", {"n": n})
        except BaseException as exc:  # collected, the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cat.verify_audit() == catalog.AuditVerification(ok=True, entries=50)
    assert [e["seq"] for e in cat.audit_entries()] == list(range(1, 51))


def test_export_writes_lines_an_outsider_can_verify(cat: catalog.Catalog, tmp_path) -> None:
    _fill(cat, 3)
    out = tmp_path / "exports" / "audit.jsonl"
    assert cat.export_audit(out) == 3
    assert [p.name for p in out.parent.iterdir()] == ["audit.jsonl"]
    previous = "0" * 64
    for line in out.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        body = {k: entry[k] for k in ("seq", "ts", "actor", "action", "target", "details",
                                      "prev_hash")}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert entry["prev_hash"] == previous
        assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == entry["hash"]
        previous = entry["hash"]
    assert cat.audit_entries()[-1]["details"] == {"bytes": 1002, "note": "열람"}
