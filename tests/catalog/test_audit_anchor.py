"""An operator with the database cannot rewrite the audit log unnoticed (issue 15, item 3).

Each attack is first shown to fool the hash chain alone (every link and the head are
recomputed), then to be caught by the signed checkpoints, whose key the database
does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import catalog
from catalog.audit_key import AuditSigner
from catalog.checkpoints import FILE_NAME, Anchor, CheckpointFile, append_checkpoint
from tests.catalog.db_owner import rewrite_log


@pytest.fixture
def signer() -> AuditSigner:
    return AuditSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def checkpoint_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / FILE_NAME


@pytest.fixture
def anchored(database_url: str, cat: catalog.Catalog, signer: AuditSigner,
             checkpoint_path: Path) -> Iterator[catalog.Catalog]:
    """A catalog service that holds the key: six epsilon spends, each checkpointed."""
    with catalog.Catalog.connect(database_url, anchor=Anchor(signer, checkpoint_path)) as c:
        for i in range(6):
            c.audit("officer", "budget.spend", f"ds/consumer-{i}", {"epsilon": 1.0})
        yield c


@pytest.fixture
def checkpoints(signer: AuditSigner, checkpoint_path: Path) -> CheckpointFile:
    return CheckpointFile(checkpoint_path, signer.public)


def test_every_committed_write_is_checkpointed_and_the_log_verifies_intact(
        anchored: catalog.Catalog, checkpoints: CheckpointFile) -> None:
    lines = checkpoints.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(catalog.CatalogError):
        anchored.audit("", "budget.spend", "x", {})  # refused: rolled back, no checkpoint
    assert len(checkpoints.path.read_text(encoding="utf-8").splitlines()) == 6
    verdict = anchored.verify_audit(checkpoints)
    assert verdict.intact and verdict.anchored_seq == 6 and verdict.unanchored == 0


def test_an_edited_entry_with_every_hash_recomputed_is_named_by_the_checkpoints(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    def cheaper(entries):
        entries[2]["details"]["epsilon"] = 0.1
        return entries

    rewrite_log(database_url, cheaper)
    assert anchored.verify_audit().ok  # the chain alone is fooled
    verdict = anchored.verify_audit(checkpoints)
    assert not verdict.ok
    assert verdict.problems[0].startswith("entry seq 3 (id ")
    assert "this entry was rewritten or inserted" in verdict.problems[0]


def test_a_deleted_tail_with_the_head_rewound_is_caught(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    rewrite_log(database_url, lambda entries: entries[:4])
    assert anchored.verify_audit().ok
    verdict = anchored.verify_audit(checkpoints)
    assert not verdict.ok
    assert any("log ends at seq 4: seq 5..6 missing" in p for p in verdict.problems)


def test_a_forged_approval_inserted_mid_chain_is_caught(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    def forge(entries):
        fake = {**entries[1], "ts": entries[1]["ts"] + timedelta(seconds=1),
                "action": "request.approve", "target": "export-1",
                "details": {"from": "under_review", "to": "approved"}}
        return [*entries[:2], fake, *entries[2:]]

    rewrite_log(database_url, forge)
    assert anchored.verify_audit().ok
    verdict = anchored.verify_audit(checkpoints)
    assert not verdict.ok
    assert verdict.problems[0].startswith("entry seq 3 ")
    assert "this entry was rewritten or inserted" in verdict.problems[0]


def test_a_forged_entry_after_the_last_checkpoint_is_unanchored_not_intact(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    def append(entries):
        return [*entries, {**entries[-1], "action": "request.approve", "target": "export-1"}]

    rewrite_log(database_url, append)
    verdict = anchored.verify_audit(checkpoints)
    assert verdict.ok and not verdict.intact
    assert (verdict.anchored_seq, verdict.unanchored) == (6, 1)


def test_a_checkpoint_line_altered_or_signed_by_another_key_is_refused(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    rewrite_log(database_url, lambda entries: entries[:5])
    lines = checkpoints.path.read_text(encoding="utf-8").splitlines()
    # The operator cannot re-sign the last line for the shorter log, so edits it instead.
    doc = json.loads(lines[-1])
    doc["seq"] = 5
    lines[-1] = json.dumps(doc)
    checkpoints.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    append_checkpoint(checkpoints.path, AuditSigner(Ed25519PrivateKey.generate()), 5, "0" * 64)
    verdict = anchored.verify_audit(checkpoints)
    assert not verdict.ok
    assert verdict.problems[0].startswith(f"checkpoint line 6 of {FILE_NAME} (")
    assert verdict.problems[0].endswith("signature does not verify (line forged or altered)")
    assert "checkpoint line 7" in verdict.problems[1] and "signed by key" in verdict.problems[1]


def test_a_catalog_without_the_key_leaves_its_writes_unanchored(
        anchored: catalog.Catalog, cat: catalog.Catalog, checkpoints: CheckpointFile,
        signer: AuditSigner) -> None:
    cat.audit("officer", "download", "release-1", {})
    verdict = cat.verify_audit(checkpoints)
    assert verdict.ok and verdict.unanchored == 1 and not verdict.intact
    cat.checkpoint_audit(Anchor(signer, checkpoints.path))
    assert cat.verify_audit(checkpoints).intact


def test_concurrent_writers_each_append_one_whole_signed_line(
        anchored: catalog.Catalog, checkpoints: CheckpointFile) -> None:
    import threading

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(5):
                anchored.audit(f"worker-{n}", "download", f"release-{i}", {"n": n})
        except BaseException as exc:  # collected, the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    lines = checkpoints.path.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["seq"] for line in lines) == list(range(1, 47))
    verdict = anchored.verify_audit(checkpoints)
    assert verdict.intact and verdict.entries == 46


def test_a_forged_line_claiming_a_forged_tail_does_not_anchor_it(
        anchored: catalog.Catalog, database_url: str, checkpoints: CheckpointFile) -> None:
    def append(entries):
        return [*entries, {**entries[-1], "action": "request.approve", "target": "export-1"}]

    rewrite_log(database_url, append)
    head = anchored.audit_entries()[-1]["hash"]
    with checkpoints.path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps({"at": "2026-12-04T00:00:00+00:00", "head": head,
                                 "key": checkpoints.fingerprint, "seq": 7,
                                 "sig": "00" * 64, "v": 1}) + "\n")
    verdict = anchored.verify_audit(checkpoints)
    assert not verdict.ok and verdict.unanchored == 1
    assert verdict.problems == [verdict.problems[0]]
    assert "checkpoint line 7" in verdict.problems[0] and "forged" in verdict.problems[0]


def test_the_console_signs_each_audited_write_when_serve_gives_it_the_key(
        cat: catalog.Catalog, people: dict, database_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    st = pytest.importorskip("streamlit")
    from tests.catalog.conftest import CONSOLE_PASSWORD, console_login, open_console

    keys, path = tmp_path / "keys", tmp_path / "logs" / FILE_NAME
    catalog.create_audit_key(keys, "console passphrase")
    for name, value in (("PSEUDOLINK_AUDIT_KEYS", keys), ("PSEUDOLINK_AUDIT_CHECKPOINTS", path),
                        ("PSEUDOLINK_PASSPHRASE", "console passphrase")):
        monkeypatch.setenv(name, str(value))
    cat.set_password("po1", CONSOLE_PASSWORD, actor="root")
    st.cache_resource.clear()  # a catalog cached by an earlier test would hold no key
    try:
        console_login(open_console(database_url, monkeypatch), "po1")
    finally:
        st.cache_resource.clear()
    source = CheckpointFile(path, catalog.load_audit_public(keys / "audit-signing.pub"))
    verdict = cat.verify_audit(source)
    assert cat.audit_entries()[-1]["action"] == "session.open"  # the login, by the console
    assert verdict.intact, verdict
