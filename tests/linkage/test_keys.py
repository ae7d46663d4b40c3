"""Party keys at rest, the project key wrapped to holders only, and keyed hashing."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyrage
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import linkage
from linkage.engines import get_engine
from linkage.keys import secret_file
from linkage.keys.party import secret_path
from linkage.spec import Recipe
from tests.linkage.conftest import PASSPHRASE


def test_party_secret_is_not_plaintext_on_disk(party_keys):
    sealed = secret_path(party_keys, "ssis").read_bytes()
    assert sealed.startswith(secret_file.MAGIC)
    secret = linkage.load_party_secret(party_keys, "ssis", PASSPHRASE)
    assert str(secret.identity).encode() not in sealed
    assert b"AGE-SECRET-KEY" not in sealed and b"ed25519" not in sealed
    assert "AGE-SECRET-KEY" not in repr(secret)


def test_party_secret_uses_the_documented_fixed_scrypt_cost(party_keys):
    sealed = secret_path(party_keys, "ssis").read_bytes()
    version, log2_n, r, p = sealed[len(secret_file.MAGIC):len(secret_file.MAGIC) + 4]
    assert (version, 2**log2_n, r, p) == (1, 2**17, 8, 1)


def test_an_altered_key_file_does_not_open(party_keys, tmp_path):
    keys = tmp_path / "keys"
    shutil.copytree(party_keys, keys)
    path = secret_path(keys, "ssis")
    data = bytearray(path.read_bytes())
    data[len(secret_file.MAGIC) + 1] -= 1  # a cheaper scrypt cost, as an attacker would like
    path.write_bytes(bytes(data))
    with pytest.raises(linkage.LinkageError, match="wrong passphrase"):
        linkage.load_party_secret(keys, "ssis", PASSPHRASE)


def test_old_age_key_files_open_and_are_rewritten(party_keys, tmp_path):
    keys = tmp_path / "keys"
    shutil.copytree(party_keys, keys)
    current = secret_path(keys, "ssis")
    before = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    plain = secret_file.open_secret(current.read_bytes(), PASSPHRASE)
    legacy = current.with_name("ssis.secret.age")
    legacy.write_bytes(pyrage.passphrase.encrypt(plain, PASSPHRASE))
    current.unlink()
    with pytest.raises(linkage.LinkageError, match="wrong passphrase"):
        linkage.load_party_secret(keys, "ssis", "not the passphrase")
    assert legacy.exists() and not current.exists()
    after = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    assert after.public == before.public
    assert current.read_bytes().startswith(secret_file.MAGIC) and not legacy.exists()
    assert linkage.load_party_secret(keys, "ssis", PASSPHRASE).public == before.public


def test_wrong_passphrase_is_a_clear_error(party_keys):
    with pytest.raises(linkage.LinkageError, match="wrong passphrase"):
        linkage.load_party_secret(party_keys, "ssis", "not the passphrase")


def test_creating_a_party_again_returns_the_same_keys(party_keys):
    before = linkage.load_party_public(party_keys, "agency")
    assert linkage.create_party(party_keys, "agency", "combiner", PASSPHRASE) == before
    with pytest.raises(linkage.LinkageError, match="already exists with role combiner"):
        linkage.create_party(party_keys, "agency", "holder", PASSPHRASE)


def test_only_holders_can_open_the_project_key_shares(world):
    shares = sorted(p.name for p in world.project_dir.glob("*.share.age"))
    assert shares == ["building.share.age", "ssis.share.age"]
    assert not list(world.keys.rglob("*.projectkey.age"))  # the key itself is never stored
    for party_id in ("keymanager", "agency", "intruder"):
        secret = linkage.load_party_secret(world.keys, party_id, PASSPHRASE)
        for path in world.project_dir.glob("*.share.age"):
            with pytest.raises(pyrage.DecryptError):
                pyrage.decrypt(path.read_bytes(), [secret.identity])
    for holder_id in ("ssis", "building"):
        secret = linkage.load_party_secret(world.keys, holder_id, PASSPHRASE)
        for path in world.project_dir.glob("*.share.age"):
            assert len(pyrage.decrypt(path.read_bytes(), [secret.identity])) == 32
    manifest_text = (world.project_dir / "project.json").read_text()
    assert "AGE-SECRET-KEY" not in manifest_text


def test_project_needs_every_partys_public_keys(world, tmp_path):
    (world.keys / "parties" / "keymanager.public.json").unlink()
    spec = world.manifest.spec
    with pytest.raises(linkage.LinkageError,
                       match="pseudolink party create --id keymanager --role key_manager"):
        linkage.create_project(spec, world.keys, tmp_path / "elsewhere")


def test_creating_the_same_project_again_reuses_it(world):
    again = linkage.create_project(world.manifest.spec, world.keys, world.project_dir)
    assert again.created_at == world.manifest.created_at
    changed = linkage.ProjectSpec.from_dict({**world.manifest.spec.to_dict(),
                                             "recipes": [{"fields": ["rrn"]}]})
    with pytest.raises(linkage.LinkageError, match="different spec"):
        linkage.create_project(changed, world.keys, world.project_dir)


text = st.text(alphabet=st.sampled_from("가각간홍길동김철수abcXYZ019 -\x1f"), max_size=12)


@settings(max_examples=25, deadline=None)
@given(key=st.binary(min_size=32, max_size=32),
       rows=st.lists(st.tuples(st.none() | text, st.none() | text), min_size=1, max_size=6))
def test_engine_keys_equal_the_reference_definition(key, rows):
    recipe = Recipe(("name", "dob"))
    values = pa.table({"name": [r[0] for r in rows], "dob": [r[1] for r in rows]},
                      schema=pa.schema([("name", pa.string()), ("dob", pa.string())]))
    keys = get_engine("duckdb").linkage_keys(values, key, [recipe])
    expected = [None if None in row else linkage.linkage_key(key, recipe.tag, list(row))
                for row in rows]
    assert keys.column("name+dob").to_pylist() == expected


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(linkage.LinkageError, match="unknown engine 'oracle'"):
        get_engine("oracle")
