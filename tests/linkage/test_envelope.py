"""A receiver accepts only files encrypted to it, signed by an allowed party, unaltered."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import subprocess
import tarfile
from dataclasses import replace

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


def _sign_header(path, signer, **changes) -> None:
    """Write ``path``'s signed header anew over its current ciphertext, as ``signer``,
    with ``changes`` to the fields: what a party holding that signing key could send."""
    sig = path.with_name(path.name + ".sig")
    header = {k: v for k, v in json.loads(sig.read_bytes()).items() if k != "signature"}
    ciphertext = path.read_bytes()
    header.update(ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
                  ciphertext_size=len(ciphertext), **changes)
    header["signature"] = signer.signer.sign(canonical_json(header)).hex()
    sig.write_bytes(canonical_json(header))


def _rewrite(world, path, edit, resign: bool = True) -> None:
    """Decrypt, let ``edit(manifest, data) -> (manifest, data)`` change it, re-encrypt.

    With ``resign`` the outer header is signed anew with the sender's key, so that the
    checks of the inner, signed manifest are what is tested."""
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
    if resign:
        _sign_header(path, _secret(world, "ssis"))


def test_genuine_keys_file_is_accepted(world):
    world.prepare_all()
    envelope = _open_keys(world, world.exchange / "ssis.keys.age")
    assert envelope.sender == "ssis" and envelope.table.num_rows == 5


def test_altered_data_is_refused(world):
    world.prepare_all()
    path = world.exchange / "ssis.keys.age"
    table = pq.read_table(world.crosswalk("ssis"))  # any other parquet

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
        linkage.seal(forged, table, kind="keys", project=world.manifest,
                     sender=_secret(world, sender),
                     recipient=world.manifest.party("keymanager"))
        with pytest.raises(linkage.LinkageError, match=f"sender '{sender}' may not send"):
            _open_keys(world, forged)


def test_holder_signed_link_map_is_refused_by_the_combiner(world):
    world.prepare_all()
    table = _open_keys(world, world.exchange / "ssis.keys.age").table
    forged = world.exchange / "linkmap.age"
    linkage.seal(forged, table, kind="linkmap", project=world.manifest,
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


def _keys_path(world):
    world.prepare_all()
    return world.exchange / "ssis.keys.age"


def test_rewritten_ciphertext_is_refused_by_its_signed_header(world):
    path = _keys_path(world)
    _rewrite(world, path, lambda m, d: (m, d), resign=False)
    with pytest.raises(linkage.LinkageError, match="does not match its signed header"):
        _open_keys(world, path)


def test_envelope_from_another_project_with_same_id_is_refused(world):
    # The same spec created again (a new nonce), or the same project under another key
    # version: same id, same parties, and yet not the project the file was made for.
    path = _keys_path(world)
    again = replace(world.manifest, nonce=secrets.token_hex(16))
    for project in (again, replace(world.manifest, key_version=2)):
        with pytest.raises(linkage.LinkageError, match="made for another project"):
            linkage.open_envelope(path, _secret(world, "keymanager"), "keys", project,
                                  project.spec.holder_ids)


def test_verify_envelope_needs_no_secret_key(world):
    path = _keys_path(world)
    header = linkage.verify_envelope(path, world.manifest)
    assert (header.sender, header.kind, header.recipient) == ("ssis", "keys", "keymanager")
    assert header.binding == world.manifest.binding and len(header.nonce) == 32
    other = replace(world.manifest, nonce=secrets.token_hex(16))
    with pytest.raises(linkage.LinkageError, match="made for another project"):
        linkage.verify_envelope(path, other)


def test_unsigned_or_resigned_envelope_is_refused_before_parsing(world):
    path = _keys_path(world)
    sig = path.with_name(path.name + ".sig")
    # Anyone holding the key manager's public key can encrypt garbage to it and sign a
    # header with a key of their own: the header's signature fails before the garbage is
    # decrypted or parsed (the garbage would fail as "not a pseudolink envelope").
    recipient = world.manifest.party("keymanager").recipient()
    path.write_bytes(pyrage.encrypt(b"not a tar file" * 100, [recipient]))
    _sign_header(path, _secret(world, "intruder"))
    with pytest.raises(linkage.LinkageError, match="header signature does not verify"):
        _open_keys(world, path)
    sig.unlink()
    with pytest.raises(linkage.LinkageError, match="unsigned"):
        _open_keys(world, path)


def test_oversized_header_is_refused_unread(world):
    path = _keys_path(world)
    path.with_name(path.name + ".sig").write_bytes(b"{" + b" " * (8 << 20) + b"}")
    with pytest.raises(linkage.LinkageError, match="header is larger than"):
        _open_keys(world, path)


def test_oversized_member_is_refused_before_decrypting_it_all(world, monkeypatch):
    # A party of the project (its header verifies) sends a 40 MiB manifest member: the
    # receiver stops at the member's tar header instead of reading it into memory.
    path = _keys_path(world)
    written = []
    _rewrite(world, path, lambda m, d: ({**m, "padding": "x" * (40 << 20)}, d))
    real = linkage.envelope._BoundedTar.write
    monkeypatch.setattr(linkage.envelope._BoundedTar, "write",
                        lambda self, b: written.append(len(b)) or real(self, b))
    with pytest.raises(linkage.LinkageError, match=r"manifest\.json is larger than"):
        _open_keys(world, path)
    assert sum(written) < 1 << 20


def test_sender_id_cannot_traverse_paths(world):
    # read_envelope without a project looks the sender's key up in the workspace: a sender
    # of "../../evil" must not reach a public key file planted outside keys/parties.
    path = _keys_path(world)
    intruder = _secret(world, "intruder")
    planted = world.keys.parent / "evil.public.json"
    planted.write_text(json.dumps({**intruder.public.to_dict(), "id": "../../evil"}))

    def forge(manifest, data):
        manifest = {**manifest, "sender": "../../evil"}
        manifest.pop("signature")
        manifest["signature"] = intruder.signer.sign(canonical_json(manifest)).hex()
        return manifest, data

    _rewrite(world, path, forge, resign=False)
    _sign_header(path, intruder, sender="../../evil")
    with pytest.raises(linkage.LinkageError, match="sender id"):
        linkage.read_envelope(path, world.keys, "keymanager", PASSPHRASE)


def test_a_third_member_smuggled_after_the_data_is_refused(world):
    # A signed header does not make any tar acceptable: past the two members only the
    # end-of-archive padding may follow.
    path = _keys_path(world)
    plain = pyrage.decrypt(path.read_bytes(), [_secret(world, "keymanager").identity])
    extra = io.BytesIO()
    with tarfile.open(fileobj=extra, mode="w") as tar:
        info = tarfile.TarInfo("extra.bin")
        info.size = 1 << 20
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    end = plain.rstrip(b"\0")
    end += b"\0" * (-len(end) % tarfile.BLOCKSIZE)
    recipient = world.manifest.party("keymanager").recipient()
    path.write_bytes(pyrage.encrypt(end + extra.getvalue(), [recipient]))
    _sign_header(path, _secret(world, "ssis"))
    with pytest.raises(linkage.LinkageError, match="holds more than"):
        _open_keys(world, path)
