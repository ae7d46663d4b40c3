"""A receiver accepts only files encrypted to it, signed by an allowed party, unaltered."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile

import pyarrow.parquet as pq
import pyrage
import pytest

import linkage
from linkage.envelope import canonical_json
from tests.conftest import skip_unless_ci
from tests.linkage.conftest import PASSPHRASE


def _secret(world, party_id):
    return linkage.load_party_secret(world.keys, party_id, PASSPHRASE)


def _open_keys(world, path):
    return linkage.open_envelope(path, _secret(world, "keymanager"), "keys", world.manifest,
                                 world.manifest.spec.holder_ids)


def _rewrite(world, path, edit) -> None:
    """Decrypt, let ``edit(manifest, data) -> (manifest, data)`` change it, re-encrypt."""
    plain = pyrage.decrypt(path.read_bytes(), [_secret(world, "keymanager").identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        data = tar.extractfile("data.parquet").read()
    manifest, data = edit(manifest, data)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, payload in (("manifest.json", canonical_json(manifest)),
                              ("data.parquet", data)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    recipient = world.manifest.party("keymanager").recipient()
    path.write_bytes(pyrage.encrypt(out.getvalue(), [recipient]))


def test_genuine_keys_file_is_accepted(world):
    world.prepare_all()
    envelope = _open_keys(world, world.exchange / "ssis.keys.age")
    assert envelope.sender == "ssis" and envelope.table.num_rows == 5


def test_altered_data_is_refused(world):
    world.prepare_all()
    path = world.exchange / "ssis.keys.age"
    table = pq.read_table(world.exchange / "ssis.crosswalk.parquet")  # any other parquet

    def swap_data(manifest, data):
        out = io.BytesIO()
        pq.write_table(table, out)
        return manifest, out.getvalue()

    _rewrite(world, path, swap_data)
    with pytest.raises(linkage.LinkageError, match=r"ssis.keys.age: data does not match"):
        _open_keys(world, path)


def test_altered_manifest_is_refused(world):
    world.prepare_all()
    path = world.exchange / "ssis.keys.age"
    _rewrite(world, path, lambda m, d: ({**m, "rows": m["rows"] + 1}, d))
    with pytest.raises(linkage.LinkageError, match="signature does not verify"):
        _open_keys(world, path)


def test_unsigned_file_is_refused(world):
    world.prepare_all()
    path = world.exchange / "ssis.keys.age"
    _rewrite(world, path, lambda m, d: ({k: v for k, v in m.items() if k != "signature"}, d))
    with pytest.raises(linkage.LinkageError, match="unsigned"):
        _open_keys(world, path)


def test_corrupted_ciphertext_is_refused(world):
    world.prepare_all()
    path = world.exchange / "ssis.keys.age"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(linkage.LinkageError, match=r"ssis\.keys\.age"):
        _open_keys(world, path)


def test_keys_file_from_a_party_outside_the_project_is_refused(world):
    world.prepare_all()
    table = _open_keys(world, world.exchange / "ssis.keys.age").table
    forged = world.exchange / "forged.keys.age"
    for sender in ("intruder", "agency"):
        linkage.seal(forged, table, kind="keys", project_id=world.manifest.id,
                     sender=_secret(world, sender),
                     recipient=world.manifest.party("keymanager"))
        with pytest.raises(linkage.LinkageError, match=f"sender '{sender}' may not send"):
            _open_keys(world, forged)


def test_holder_signed_link_map_is_refused_by_the_combiner(world):
    world.prepare_all()
    table = _open_keys(world, world.exchange / "ssis.keys.age").table
    forged = world.exchange / "linkmap.age"
    linkage.seal(forged, table, kind="linkmap", project_id=world.manifest.id,
                 sender=_secret(world, "ssis"), recipient=world.manifest.party("agency"))
    with pytest.raises(linkage.LinkageError, match="may not send linkmap"):
        linkage.combine(world.manifest, forged, world.payload_files(),
                        world.root / "out.parquet", world.keys, PASSPHRASE)
    assert not (world.root / "out.parquet").exists()


def test_wrong_kind_and_wrong_project_are_refused(world):
    world.prepare_all()
    payload = world.exchange / "ssis.payload.age"
    with pytest.raises(linkage.LinkageError, match="is a payload file, expected linkmap"):
        linkage.open_envelope(payload, _secret(world, "agency"), "linkmap", world.manifest,
                              ["keymanager"])
    other = linkage.ProjectSpec.from_dict({**world.manifest.spec.to_dict(),
                                           "project": {"id": "other", "purpose": "statistics"}})
    other_manifest = linkage.ProjectManifest(other, world.manifest.parties)
    with pytest.raises(linkage.LinkageError, match="belongs to project 'housing-test'"):
        linkage.open_envelope(payload, _secret(world, "agency"), "payload", other_manifest,
                              other.holder_ids)


def test_age_tool_decrypts_a_payload(world, tmp_path):
    if shutil.which("age") is None:
        skip_unless_ci("the Debian `age` tool is not installed")
    world.prepare_all()
    identity = tmp_path / "agency.key"
    identity.write_text(str(_secret(world, "agency").identity) + "\n")
    identity.chmod(0o600)
    result = subprocess.run(["age", "--decrypt", "-i", str(identity),
                             str(world.exchange / "ssis.payload.age")],
                            capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        table = pq.read_table(io.BytesIO(tar.extractfile("data.parquet").read()))
    assert table.column_names == ["serial", "age", "sigungu", "benefit_type"]
