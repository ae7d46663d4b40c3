"""The official process's safeguards: extraction of linked records only, key rotation,
and closing recorded in the audit log."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import linkage
from pseudolink.cli import combine, holder, link, party, project  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE, SPEC, party_workspace


def test_extracted_payload_holds_only_linked_serials(world, party_keys, tmp_path):
    world.prepare_all()
    km_keys = party_workspace(party_keys, tmp_path / "km", "keymanager")
    km_out = tmp_path / "km-out"
    report = linkage.link(world.project_dir, world.keys_files(), km_out, km_keys, PASSPHRASE)
    assert report.links == 3
    linkmap = linkage.read_envelope(km_out / "linkmap.age", world.keys, "agency", PASSPHRASE)
    for holder_id, prepared in (("ssis", 5), ("building", 4)):
        matched = km_out / f"{holder_id}.matched.age"
        # Only that holder can open its matched file, and it is signed by the key manager.
        with pytest.raises(linkage.LinkageError, match="cannot be decrypted"):
            linkage.read_envelope(matched, world.keys, "agency", PASSPHRASE)
        holder_keys = party_workspace(party_keys, tmp_path / f"h-{holder_id}", holder_id)
        shutil.copytree(world.keys / "projects", holder_keys / "projects")
        extracted = linkage.extract(world.project_dir, holder_id, matched, world.exchange,
                                    holder_keys, PASSPHRASE)
        assert (extracted.records, extracted.extracted) == (prepared, 3)
        payload = linkage.read_envelope(world.exchange / f"{holder_id}.payload.age",
                                        world.keys, "agency", PASSPHRASE, world.manifest)
        linked = {r["serial"] for r in linkmap.to_pylist() if r["holder"] == holder_id}
        assert set(payload.column("serial").to_pylist()) == linked
    out = tmp_path / "combined.parquet"
    assert linkage.combine(world.project_dir, km_out / "linkmap.age", world.payload_files(),
                           out, world.keys, PASSPHRASE).rows == 3


def test_matched_file_from_another_sender_is_refused(world, tmp_path):
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    # A holder's own keys file is not a matched file signed by the key manager.
    with pytest.raises(linkage.LinkageError, match=r"expected matched|cannot be decrypted"):
        linkage.extract(world.manifest, "ssis", world.exchange / "ssis.keys.age",
                        world.exchange, world.keys, PASSPHRASE)


def test_rotation_keeps_old_links_and_refuses_stale_keys(world, tmp_path):
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    old_linkmap = world.exchange / "linkmap.age"
    saved = tmp_path / "linkmap-v1.age"
    shutil.copy(old_linkmap, saved)
    old_keys = linkage.read_envelope(world.exchange / "ssis.keys.age", world.keys,
                                     "keymanager", PASSPHRASE)

    rotated = linkage.rotate_project_key(world.project_dir, world.keys)
    assert rotated.key_version == 2
    assert [p.name for p in (world.keys / "projects" / "housing-test").iterdir()
            if p.name.startswith("ssis")] == ["ssis.v2.projectkey.age"]
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
    run("project", "rotate-key", "--project", "housing-test")
    run("project", "close", "--project", "housing-test", "--actor", "officer")
    url = f"sqlite:///{(work / 'catalog.db').resolve()}"
    with catalog.Catalog.connect(url) as cat:
        entries = [e for e in cat.audit_entries() if e["target"] == "housing-test"]
        assert [e["action"] for e in entries] == ["project.close"]
        assert entries[0]["actor"] == "officer"
        assert cat.verify_audit().ok
    assert not list((work / "keys").rglob("*projectkey.age"))


def test_parties_on_separate_machines_swap_public_keys_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    holder_ws, km_ws = tmp_path / "holder", tmp_path / "km"
    _cli(holder_ws)("party", "create", "--id", "ssis", "--role", "holder")
    _cli(km_ws)("party", "create", "--id", "keymanager", "--role", "key_manager")
    _cli(km_ws)("party", "export", "--id", "keymanager", "--out", str(tmp_path))
    exported = tmp_path / "keymanager.public.json"
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


def test_extract_via_cli(tmp_path, party_keys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    from tests.linkage.conftest import BUILDING_CSV, SSIS_CSV

    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    (tmp_path / "building.csv").write_text(BUILDING_CSV, encoding="utf-8")
    run = _cli(work)
    out = tmp_path / "out"
    run("project", "create", "--spec", str(tmp_path / "project.toml"))
    for h in ("ssis", "building"):
        run("holder", "prepare", "--project", "housing-test", "--holder", h, "--input",
            str(tmp_path / f"{h}.csv"), "--out", str(out))
    run("link", "--project", "housing-test", "--keys", str(out / "ssis.keys.age"),
        str(out / "building.keys.age"), "--out", str(out))
    printed = run("holder", "extract", "--project", "housing-test", "--holder", "ssis",
                  "--matched", str(out / "ssis.matched.age"), "--out", str(out))
    assert "3 of 5 records linked" in printed
    run("combine", "--project", "housing-test", "--linkmap", str(out / "linkmap.age"),
        "--payloads", str(out / "ssis.payload.age"), str(out / "building.payload.age"),
        "--out", str(tmp_path / "c.parquet"))
    assert pq.read_table(tmp_path / "c.parquet").num_rows == 3
