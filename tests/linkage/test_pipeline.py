"""Prepare -> link -> combine on hand-made files: the linkage promises users rely on."""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pyrage
import pytest

import linkage
from tests.linkage.conftest import EXPECTED_PAIRS, PASSPHRASE, party_workspace


def _pairs(world, linkmap) -> set[tuple[str, str]]:
    record = {}
    for holder in ("ssis", "building"):
        crosswalk = pq.read_table(world.crosswalk(holder)).to_pylist()
        record[holder] = {row["serial"]: row["record_id"] for row in crosswalk}
    clusters: dict[str, dict[str, str]] = {}
    for row in linkmap.to_pylist():
        clusters.setdefault(row["link_id"], {})[row["holder"]] = record[row["holder"]][
            row["serial"]]
    return {(c["ssis"], c["building"]) for c in clusters.values()}


def test_pipeline_recovers_expected_pairs_in_separate_workspaces(engine_world, party_keys,
                                                                 tmp_path):
    world = engine_world
    world.prepare_all()
    # The key manager and the combiner each work with only their own private keys.
    km_keys = party_workspace(party_keys, tmp_path / "km", "keymanager")
    agency_keys = party_workspace(party_keys, tmp_path / "agency", "agency")
    report = linkage.link(world.project_dir, world.keys_files(), tmp_path / "km-out",
                          km_keys, PASSPHRASE, engine=world.engine)
    assert report.links == 3
    assert report.links_per_recipe == {"rrn": 2, "name+dob+sex": 1}
    out = tmp_path / "agency-out" / "combined.parquet"
    combined = linkage.combine(world.project_dir, tmp_path / "km-out" / "linkmap.age",
                               world.payload_files(), out, agency_keys, PASSPHRASE,
                               engine=world.engine)
    assert combined.rows == 3
    for workspace in (km_keys, agency_keys):
        assert not (workspace / "projects").exists()
        assert not list(workspace.rglob("*.csv"))
        assert not list(workspace.rglob("*.projectkey.age"))

    linkmap = linkage.read_envelope(tmp_path / "km-out" / "linkmap.age", agency_keys,
                                    "agency", PASSPHRASE, world.manifest)
    assert _pairs(world, linkmap) == EXPECTED_PAIRS
    table = pq.read_table(out)
    assert table.column_names == ["link_id", "ssis__age", "ssis__sigungu",
                                  "ssis__benefit_type", "building__building_use",
                                  "building__built_year"]
    rows = {(r["ssis__age"], r["building__built_year"]) for r in table.to_pylist()}
    assert rows == {("45", "1988"), ("50", "1975"), ("35", "1999")}


def _plaintext(path, keys_dir, party_id) -> bytes:
    secret = linkage.load_party_secret(keys_dir, party_id, PASSPHRASE)
    return pyrage.decrypt(path.read_bytes(), [secret.identity])


def _without_random_hex(plain: bytes) -> bytes:
    """``plain`` with runs of 16 or more hex digits (serials, nonces, digests, signatures)
    cut out: random hex holds a short digit string by chance (b'1988' turned up in one run
    of the suite), while a leaked value stands between bytes that are not hex digits."""
    return re.sub(rb"[0-9a-f]{16,}", b"|", plain)


def test_key_manager_never_sees_attributes(world):
    world.prepare_all()
    for holder in ("ssis", "building"):
        path = world.exchange / f"{holder}.keys.age"
        table = linkage.read_envelope(path, world.keys, "keymanager", PASSPHRASE)
        assert table.column_names == ["serial", "rrn", "name+dob+sex"]
        plain = _without_random_hex(_plaintext(path, world.keys, "keymanager"))
        for value in ("종로구", "livelihood", "apartment", "1988", "홍길동", "8001011234"):
            assert value.encode() not in plain
        # and the combiner cannot open it at all: refused by its signed header, and not
        # decryptable with the combiner's identity even by hand
        with pytest.raises(linkage.LinkageError, match="addressed to 'keymanager'"):
            linkage.read_envelope(path, world.keys, "agency", PASSPHRASE)
        with pytest.raises(pyrage.DecryptError):
            _plaintext(path, world.keys, "agency")


def test_combiner_never_sees_identifiers_or_keys(world):
    world.prepare_all()
    keys = set()
    for holder in ("ssis", "building"):
        table = linkage.read_envelope(world.exchange / f"{holder}.keys.age", world.keys,
                                      "keymanager", PASSPHRASE)
        keys |= {k for c in ("rrn", "name+dob+sex") for k in table.column(c).to_pylist() if k}
    assert keys
    for holder in ("ssis", "building"):
        path = world.exchange / f"{holder}.payload.age"
        table = linkage.read_envelope(path, world.keys, "agency", PASSPHRASE)
        assert "name" not in table.column_names and "rrn" not in table.column_names
        plain = _plaintext(path, world.keys, "agency")
        for value in ("홍길동", "이영희", "800101", "010-1234-5678", "01012345678"):
            assert value.encode() not in _without_random_hex(plain)
        assert not [k for k in keys if k in plain or k.hex().encode() in plain]


def test_prepare_report_counts_without_identifier_values(world):
    reports = world.prepare_all()
    ssis = reports["ssis"]
    assert ssis.records == 5
    assert ssis.keys_per_recipe == {"rrn": 3, "name+dob+sex": 4}
    assert ssis.missing_per_recipe == {"rrn": 2, "name+dob+sex": 1}
    text = (world.exchange / "ssis.prepare.json").read_text(encoding="utf-8")
    assert json.loads(text)["records"] == 5
    for value in ("홍길동", "800101", "010-1234"):
        assert value not in text


def test_duplicates_within_a_holder_are_reported_not_joined(engine_world):
    world = engine_world
    # Two ssis records share one RRN: neither may be linked on it.
    lines = world.root.joinpath("ssis.csv").read_text(encoding="utf-8").splitlines()
    lines.append(lines[1].replace("홍길동", "홍길순").replace(",45,", ",44,"))
    world.write("ssis.csv", "\n".join(lines) + "\n")
    world.prepare_all()
    report = linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                          PASSPHRASE, engine=world.engine)
    assert report.holders["ssis"]["rrn"].duplicate_records == 2
    assert report.holders["ssis"]["rrn"].duplicate_keys == 1
    assert report.duplicates >= 2
    assert report.conflicts_per_recipe["rrn"]["matches_a_duplicate"] == 1
    linkmap = linkage.read_envelope(world.exchange / "linkmap.age", world.keys, "agency",
                                    PASSPHRASE)
    pairs = _pairs(world, linkmap)
    # 홍길동 still links on name+dob+sex (that key is unique), but never to both records.
    assert ("1", "1") in pairs and ("6", "1") not in pairs
    assert report.links == 3


def test_precheck_reports_match_rates_and_writes_no_link_map(engine_world, tmp_path):
    world = engine_world
    world.prepare_all()
    out = tmp_path / "precheck"
    report = linkage.link(world.manifest, world.keys_files(), out, world.keys, PASSPHRASE,
                          precheck=True, engine=world.engine)
    assert not (out / "linkmap.age").exists()
    saved = json.loads((out / "link-report.json").read_text())
    assert saved["precheck"] is True
    assert report.holders["building"]["rrn"].shared == 2
    assert report.match_rates()["building"]["rrn"] == pytest.approx(0.5)
    assert saved["holders"]["ssis"]["name+dob+sex"]["match_rate"] == pytest.approx(3 / 5)


def test_closed_project_refuses_work_and_loses_its_key_and_link_map(world):
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    assert (world.exchange / "linkmap.age").exists()
    closed = linkage.close_project(world.project_dir, world.keys)
    assert closed.status == "closed"
    assert not (world.exchange / "linkmap.age").exists()
    # The key was only ever in memory; its shares and the holders' records of acceptance go.
    assert not list(world.project_dir.glob("*.share.age"))
    assert not list(world.keys.rglob("*.accepted.json"))
    with pytest.raises(linkage.LinkageError, match="closed"):
        linkage.prepare(world.project_dir, "ssis", world.root / "ssis.csv", world.exchange,
                        world.keys, PASSPHRASE)
    with pytest.raises(linkage.LinkageError, match="closed"):
        linkage.link(world.project_dir, world.keys_files(), world.exchange, world.keys,
                     PASSPHRASE)


def test_keys_file_is_a_tar_of_manifest_and_parquet(world):
    world.prepare_all()
    plain = _plaintext(world.exchange / "ssis.keys.age", world.keys, "keymanager")
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert sorted(tar.getnames()) == ["data.parquet", "manifest.json"]
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["kind"] == "keys" and manifest["sender"] == "ssis"
    assert manifest["recipient"] == "keymanager" and manifest["rows"] == 5
    assert len(bytes.fromhex(manifest["signature"])) == 64


def test_rerunning_prepare_and_link_replaces_outputs(world):
    world.prepare_all()
    world.prepare_all()
    first = linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                         PASSPHRASE)
    second = linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                          PASSPHRASE)
    assert first.links == second.links == 3
    assert not [p for p in world.exchange.iterdir() if p.name.endswith(".tmp")]


def test_prepare_in_small_batches_gives_the_same_links(world, monkeypatch):
    # Batching keeps memory flat on national files; it must not change what links.
    monkeypatch.setattr(sys.modules["linkage.prepare"], "BATCH_ROWS", 2)
    reports = world.prepare_all()
    assert reports["ssis"].records == 5
    assert reports["ssis"].keys_per_recipe == {"rrn": 3, "name+dob+sex": 4}
    crosswalk = pq.read_table(world.crosswalk("ssis"))
    assert crosswalk.column("row_number").to_pylist() == [1, 2, 3, 4, 5]
    assert len(set(crosswalk.column("serial").to_pylist())) == 5
    report = linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                          PASSPHRASE)
    linkmap = linkage.read_envelope(world.exchange / "linkmap.age", world.keys, "agency",
                                    PASSPHRASE)
    assert report.links == 3 and _pairs(world, linkmap) == EXPECTED_PAIRS


def test_only_the_key_manager_links_and_only_the_combiner_combines(world, tmp_path):
    world.prepare_all()
    with pytest.raises(linkage.LinkageError, match="is not the key manager of project"):
        linkage.link(world.manifest, world.keys_files(), tmp_path / "a", world.keys,
                     PASSPHRASE, as_party="ssis")
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    with pytest.raises(linkage.LinkageError, match="is not the combiner of project"):
        linkage.combine(world.manifest, world.exchange / "linkmap.age", world.payload_files(),
                        tmp_path / "combined.parquet", world.keys, PASSPHRASE,
                        as_party=world.manifest.spec.key_manager)
    assert not (tmp_path / "combined.parquet").exists()


def test_combine_refuses_a_payload_of_another_prepare_run(engine_world, tmp_path):
    world = engine_world
    # Serials are fresh at every prepare: a payload from a rerun cannot join the link map.
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE,
                 engine=world.engine)
    rerun = tmp_path / "rerun"
    linkage.prepare(world.manifest, "ssis", world.root / "ssis.csv", rerun, world.keys,
                    PASSPHRASE, engine=world.engine)
    out = tmp_path / "combined.parquet"
    with pytest.raises(linkage.LinkageError, match="serials of holder 'ssis' that its payload "
                                                   "lacks"):
        linkage.combine(world.manifest, world.exchange / "linkmap.age",
                        [rerun / "ssis.payload.age", world.exchange / "building.payload.age"],
                        out, world.keys, PASSPHRASE, engine=world.engine)
    assert not out.exists()


def test_combine_refuses_a_payload_that_repeats_a_serial(engine_world, tmp_path):
    world = engine_world
    world.prepare_all()
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE,
                 engine=world.engine)
    path = world.exchange / "ssis.payload.age"
    table = linkage.read_envelope(path, world.keys, "agency", PASSPHRASE)
    linkmap = linkage.read_envelope(world.exchange / "linkmap.age", world.keys, "agency",
                                    PASSPHRASE)
    linked = {s for h, s in zip(linkmap.column("holder").to_pylist(),
                                linkmap.column("serial").to_pylist(), strict=True) if h == "ssis"}
    # A linked record twice: its link would come out as two rows.
    twin = next(i for i, s in enumerate(table.column("serial").to_pylist()) if s in linked)
    doubled = tmp_path / "ssis.payload.age"
    linkage.seal(doubled, pa.concat_tables([table, table.slice(twin, 1)]), kind="payload",
                 project=world.manifest,
                 sender=linkage.load_party_secret(world.keys, "ssis", PASSPHRASE),
                 recipient=world.manifest.party(world.manifest.spec.combiner))
    out = tmp_path / "combined.parquet"
    with pytest.raises(linkage.LinkageError, match="payload of holder 'ssis' repeats a serial"):
        linkage.combine(world.manifest, world.exchange / "linkmap.age",
                        [doubled, world.exchange / "building.payload.age"], out, world.keys,
                        PASSPHRASE, engine=world.engine)
    assert not out.exists()
