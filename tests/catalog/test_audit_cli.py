"""`pseudolink audit verify|export` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog
import pseudolink.cli.audit  # noqa: F401  (registers the `audit` commands)
from pseudolink.cli.app import app
from pseudolink.cli.audit import EXIT_UNANCHORED
from tests.accounts import log_in
from tests.catalog.conftest import tamper
from tests.catalog.db_owner import rewrite_log

runner = CliRunner()
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def workdir(tmp_path: Path, cat: catalog.Catalog, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    for i in range(3):
        cat.audit("officer", "download", f"release-{i}", {"i": i})
    return tmp_path / "ws"


@pytest.fixture
def keyed(workdir: Path) -> Path:
    """The workspace with its audit signing key, which signs the head on creation."""
    result = runner.invoke(app, ["audit", "key", "create", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    return workdir


def test_audit_verify_reports_an_intact_log(keyed: Path) -> None:
    # Contract change (issue 15): "intact" now also needs a signed checkpoint covering
    # every entry; before, a consistent chain was enough, which a rewrite also is.
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)])
    assert result.exit_code == 0, result.output
    assert "audit log intact: 3 entries" in result.output


def test_audit_verify_exits_1_and_names_the_changed_entry(workdir: Path,
                                                          database_url: str) -> None:
    tamper(database_url, "UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(workdir)])
    assert result.exit_code == 1
    assert "entry seq 2" in result.output
    assert "entry changed" in result.output


def test_audit_export_writes_one_line_per_entry(workdir: Path, tmp_path: Path,
                                                cat: catalog.Catalog,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "audit.jsonl"
    # Contract change (issue 16): export needs a login with audit.read; the officer's
    # login and session are themselves audited, so the downloads are picked out below.
    log_in(cat, monkeypatch, "officer", "privacy_officer")
    result = runner.invoke(app, ["audit", "export", "--out", str(out), "--workdir",
                                 str(workdir)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["target"] for e in lines if e["action"] == "download"] == [
        "release-0", "release-1", "release-2"]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))


def test_audit_export_is_refused_to_a_researcher(workdir: Path, tmp_path: Path,
                                                 cat: catalog.Catalog,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    log_in(cat, monkeypatch, "alice", "researcher")
    result = runner.invoke(app, ["audit", "export", "--out", str(tmp_path / "a.jsonl"),
                                 "--workdir", str(workdir)])
    assert isinstance(result.exception, catalog.PermissionRefused)
    assert not (tmp_path / "a.jsonl").exists()


def test_audit_verify_on_a_missing_catalog_says_run_init(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(tmp_path / "none")])
    assert isinstance(result.exception, catalog.CatalogError)
    assert "run `pseudolink init`" in str(result.exception)


def _spend_cheaper(entries):
    entries[1]["details"]["i"] = 99
    return entries


def _forge_approval(entries):
    fake = {**entries[0], "action": "request.approve", "target": "export-1",
            "details": {"from": "under_review", "to": "approved"}}
    return [entries[0], fake, *entries[1:]]


#: The operator's rewrites of issue 15: each recomputes every hash and the head.
REWRITES = {"edited": _spend_cheaper, "tail cut": lambda entries: entries[:2],
            "approval forged": _forge_approval}


@pytest.mark.parametrize("rewrite", REWRITES.values(), ids=REWRITES.keys())
def test_audit_verify_does_not_call_a_rewritten_and_recomputed_log_intact(
        workdir: Path, database_url: str, rewrite) -> None:
    rewrite_log(database_url, rewrite)
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(workdir)])
    assert result.exit_code != 0, result.output
    assert "intact" not in result.output


@pytest.mark.parametrize(("rewrite", "finding"), [
    (_spend_cheaper, "entry seq 3 (id"),
    (REWRITES["tail cut"], "signs seq 3 but the log ends at seq 2: seq 3 missing"),
    (_forge_approval, "entry seq 3 (id"),
], ids=REWRITES.keys())
def test_audit_verify_exits_1_for_each_rewrite_once_the_head_is_signed(
        keyed: Path, database_url: str, rewrite, finding: str) -> None:
    rewrite_log(database_url, rewrite)
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)])
    assert result.exit_code == 1, result.output
    assert finding in result.output


def test_audit_verify_names_the_rewritten_entry_against_the_signed_checkpoint(
        keyed: Path, database_url: str) -> None:
    rewrite_log(database_url, _spend_cheaper)
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)])
    assert result.exit_code == 1, result.output
    # One checkpoint (at seq 3, when the key was made) bounds the rewrite to seq 1..3.
    assert "entry seq 3 (id" in result.output
    assert "an entry in seq 1..3 was rewritten, inserted or deleted" in result.output


def test_audit_verify_exits_3_for_entries_after_the_last_checkpoint(
        keyed: Path, cat: catalog.Catalog) -> None:
    cat.audit("officer", "download", "release-3", {})  # a process without the key
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)])
    assert result.exit_code == EXIT_UNANCHORED, result.output
    assert "NOT ANCHORED" in result.output and "seq 4" in result.output
    assert "intact" not in result.output
    result = runner.invoke(app, ["audit", "checkpoint", "--workdir", str(keyed)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)]).exit_code == 0


def test_audit_verify_without_a_signing_key_says_not_anchored(workdir: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(workdir)])
    assert result.exit_code == EXIT_UNANCHORED, result.output
    assert "pseudolink audit key create" in result.output


def test_a_witness_copy_catches_a_tail_cut_from_the_log_and_the_local_checkpoints(
        keyed: Path, cat: catalog.Catalog, database_url: str, tmp_path: Path) -> None:
    checkpoints = keyed / "logs" / "audit-checkpoints.jsonl"
    for i in range(3, 5):
        cat.audit("officer", "download", f"release-{i}", {})
        assert runner.invoke(app, ["audit", "checkpoint", "--workdir", str(keyed)]
                             ).exit_code == 0
    witness = tmp_path / "witness.jsonl"
    witness.write_bytes(checkpoints.read_bytes())
    public = tmp_path / "audit.pub"
    public.write_bytes((keyed / "keys" / "audit-signing.pub").read_bytes())
    # The operator cuts the last two entries and the checkpoint lines that cover them.
    rewrite_log(database_url, lambda entries: entries[:3])
    lines = checkpoints.read_text(encoding="utf-8").splitlines(keepends=True)
    checkpoints.write_text("".join(lines[:1]), encoding="utf-8")
    assert runner.invoke(app, ["audit", "verify", "--workdir", str(keyed)]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed), "--checkpoints",
                                 str(witness), "--public-key", str(public)])
    assert result.exit_code == 1, result.output
    assert "seq 4..5 missing" in result.output


def test_the_signing_key_never_sits_on_disk_in_plaintext(keyed: Path) -> None:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    signer = catalog.load_audit_signer(keyed / "keys", PASSPHRASE)
    raw = signer.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    stored = (keyed / "keys" / "audit-signing.key").read_bytes()
    assert raw not in stored and raw.hex().encode() not in stored
    assert (keyed / "keys" / "audit-signing.key").stat().st_mode & 0o077 == 0
    with pytest.raises(catalog.CatalogError, match="wrong passphrase"):
        catalog.load_audit_signer(keyed / "keys", "not the passphrase")
    again = runner.invoke(app, ["audit", "key", "create", "--workdir", str(keyed)])
    assert again.exit_code == 2 and "already holds an audit signing key" in again.output


def test_checkpoint_without_a_key_and_verify_with_a_missing_file_are_clear_errors(
        workdir: Path, keyed: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    result = runner.invoke(app, ["audit", "checkpoint", "--workdir", str(bare)])
    assert result.exit_code == 2
    assert result.output.startswith("error: no audit signing key at ")
    assert "pseudolink audit key create" in result.output
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed), "--checkpoints",
                                 str(tmp_path / "nowhere.jsonl")])
    assert result.exit_code == 2 and result.output.startswith("error: no checkpoint file at ")
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(keyed), "--public-key",
                                 str(tmp_path / "nowhere.pub")])
    assert result.exit_code == 2 and result.output.startswith("error: no audit public key at ")
    result = runner.invoke(app, ["audit", "verify", "--workdir", str(bare), "--checkpoints",
                                 str(keyed / "logs" / "audit-checkpoints.jsonl")])
    assert result.exit_code == 2
    assert result.output.startswith("error: --checkpoints needs the audit public key")
