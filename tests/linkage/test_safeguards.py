"""The official process's safeguards, and where pseudolink goes further: linked records only
reach the combined data (without telling holders which matched), key rotation as a new
round of holders' shares, and closing recorded in the audit log."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import linkage
from pseudolink.cli import combine, holder, link, party, project  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE, SPEC, accept_all


def test_combine_keeps_only_linked_records_and_counts_the_rest(world, tmp_path):
    # Holders send every record; the combined data holds the linked ones only, and the
    # report says how many were dropped without naming them.
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    report = linkage.combine(world.project_dir, world.exchange / "linkmap.age",
                             world.payload_files(), tmp_path / "c.parquet", world.keys,
                             PASSPHRASE)
    assert report.rows == 3
    assert report.records_per_holder == {"ssis": 3, "building": 3}
    assert report.discarded_per_holder == {"ssis": 2, "building": 1}
    ages = set(pq.read_table(tmp_path / "c.parquet").column("ssis__age").to_pylist())
    assert ages == {"45", "50", "35"}  # 박민수 (40) and 최없음 (60) linked to nothing


def test_holder_extract_is_withdrawn_with_the_new_flow_explained(world):
    with pytest.raises(linkage.LinkageError, match=r"withdrawn.*full payload"):
        linkage.extract(world.manifest, "ssis", world.exchange / "ssis.matched.age",
                        world.exchange, world.keys, PASSPHRASE)


def test_rotation_keeps_old_links_and_refuses_stale_keys(world, tmp_path):
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    old_linkmap = world.exchange / "linkmap.age"
    saved = tmp_path / "linkmap-v1.age"
    shutil.copy(old_linkmap, saved)
    shutil.copy(f"{old_linkmap}.sig", f"{saved}.sig")  # an envelope moves with its header
    old_keys = linkage.read_envelope(world.exchange / "ssis.keys.age", world.keys,
                                     "keymanager", PASSPHRASE)

    rotated = linkage.rotate_project_key(world.project_dir, world.keys)
    assert rotated.key_version == 2
    # Rotation is a new round of holders' shares: the old ones are destroyed, and no key
    # exists until every holder accepts the new version.
    assert not list(world.project_dir.glob("*.share.age"))
    with pytest.raises(linkage.LinkageError, match="has not accepted"):
        linkage.prepare(world.project_dir, "ssis", world.root / "ssis.csv", tmp_path / "x",
                        world.keys, PASSPHRASE)
    accept_all(rotated, world.keys)
    assert sorted(p.name for p in world.project_dir.glob("*.share.age")) == [
        "building.v2.share.age", "ssis.v2.share.age"]
    # Keys prepared under version 1 can no longer be linked with new ones.
    with pytest.raises(linkage.LinkageError, match=r"key version 1.*prepare.*again"):
        linkage.link(world.project_dir, world.keys_files(), tmp_path / "stale", world.keys,
                     PASSPHRASE)
    # The link map made before rotation still combines with the payloads it was made from.
    combined = linkage.combine(world.project_dir, saved, world.payload_files(),
                               tmp_path / "old.parquet", world.keys, PASSPHRASE)
    assert combined.rows == 3

    new_exchange = tmp_path / "v2"
    for holder_id in ("ssis", "building"):
        linkage.prepare(world.project_dir, holder_id, world.root / f"{holder_id}.csv",
                        new_exchange, world.keys, PASSPHRASE)
    new_keys = linkage.read_envelope(new_exchange / "ssis.keys.age", world.keys,
                                     "keymanager", PASSPHRASE)
    assert not set(new_keys.column("rrn").to_pylist()) - {None} & set(
        old_keys.column("rrn").to_pylist())
    report = linkage.link(world.project_dir, [new_exchange / "ssis.keys.age",
                                              new_exchange / "building.keys.age"],
                          new_exchange, world.keys, PASSPHRASE)
    assert report.links == 3
    new_map = linkage.open_envelope(new_exchange / "linkmap.age",
                                    linkage.load_party_secret(world.keys, "agency", PASSPHRASE),
                                    "linkmap", rotated, ["keymanager"])
    assert new_map.manifest["key_version"] == 2


def _cli(work):
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return result.output
    return run


def test_close_is_recorded_in_the_audit_log(tmp_path, party_keys, monkeypatch):
    import catalog

    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    run = _cli(work)
    run("project", "create", "--spec", str(tmp_path / "project.toml"))
    run("project", "accept", "--project", "housing-test", "--holder", "ssis", "--yes")
    run("project", "rotate-key", "--project", "housing-test")
    run("project", "close", "--project", "housing-test")
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    with catalog.Catalog.connect(url) as cat:
        entries = [e for e in cat.audit_entries() if e["target"] == "housing-test"]
        assert [e["action"] for e in entries][-2:] == ["project.close",
                                                      "project.destruction_certificate"]
        # No users in this workspace's catalog, so nobody can log in: the actor is the
        # workspace's party, never a free-text name (issue 16; logged-in closes in
        # tests/pseudolink/test_project_governance.py).
        assert {e["actor"] for e in entries} == {"party:workspace", "party:ssis"}
        assert cat.verify_audit().ok
    assert not list((work / "keys").rglob("*projectkey.age"))
    assert not list(work.rglob("*.share.age")) and not list(work.rglob("*.accepted.json"))


def test_parties_on_separate_machines_swap_public_keys_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    holder_ws, km_ws = tmp_path / "holder", tmp_path / "km"
    _cli(holder_ws)("party", "create", "--id", "ssis", "--role", "holder")
    _cli(km_ws)("party", "create", "--id", "keymanager", "--role", "key_manager")
    _cli(km_ws)("party", "export", "--id", "keymanager", "--out", str(tmp_path))
    exported = tmp_path / "keymanager.public.json"
    # A folder that does not exist yet, named with a trailing slash as docs/linkage.md
    # does (`--out ./outbox/`), is a folder: the file inside it, not a file named outbox.
    _cli(km_ws)("party", "export", "--id", "keymanager", "--out", f"{tmp_path / 'outbox'}/")
    assert (tmp_path / "outbox" / "keymanager.public.json").read_text() == exported.read_text()
    assert "secret" not in exported.read_text() and "AGE-SECRET" not in exported.read_text()
    _cli(holder_ws)("party", "import", str(exported))
    assert linkage.load_party_public(holder_ws / "keys", "keymanager") == \
        linkage.load_party_public(km_ws / "keys", "keymanager")
    # A different key under a known id is refused.
    other = tmp_path / "other"
    _cli(other)("party", "create", "--id", "keymanager", "--role", "key_manager")
    _cli(other)("party", "export", "--id", "keymanager", "--out", str(tmp_path / "x.json"))
    out = _cli(holder_ws)("party", "import", str(tmp_path / "x.json"), code=2)
    assert "different keys" in " ".join(out.split())


def test_extract_via_cli_is_refused_with_the_new_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    printed = _cli(tmp_path / "ws")("holder", "extract", "--project", "housing-test",
                                    "--holder", "ssis", "--matched", "ssis.matched.age",
                                    "--out", str(tmp_path), code=2)
    assert printed.startswith("error: `holder extract` is withdrawn")
    assert "Traceback" not in printed
