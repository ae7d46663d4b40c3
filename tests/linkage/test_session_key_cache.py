"""A party key unlocked once serves later commands from the kernel keyring, never a file.

Each CLI command is a process of its own and used to pay the scrypt derivation of the key
file every time. With PSEUDOLINK_KEY_CACHE_SECONDS set, the unlocked key waits in the
kernel's per-user keyring until it expires; a replaced key file is unlocked afresh, and
without the setting nothing is cached.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

import linkage
from linkage.keys import party, secret_file, session_cache
from linkage.keys.party import secret_path
from tests.linkage.conftest import PASSPHRASE

if not session_cache.available():
    pytestmark = pytest.mark.skipif(
        os.environ.get("CI") != "true",
        reason="this machine's kernel keyring is not available (Linux keyctl refused)")


@pytest.fixture
def keys(tmp_path, party_keys, monkeypatch):
    shutil.copytree(party_keys, tmp_path / "keys")
    party._unlock.cache_clear()  # the in-process cache would hide the keyring's part
    path = secret_path(tmp_path / "keys", "ssis")
    sealed = path.read_bytes()
    yield tmp_path / "keys"
    session_cache.forget(path, sealed)
    session_cache.forget(path, path.read_bytes())
    party._unlock.cache_clear()


def _no_derivation(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the key file was derived again")
    monkeypatch.setattr(secret_file, "open_secret", refuse)
    monkeypatch.setattr(party, "open_secret", refuse)


def test_a_cached_session_key_spares_the_next_command_the_derivation(keys, monkeypatch):
    monkeypatch.setenv(session_cache.ENV, "60")
    first = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    party._unlock.cache_clear()  # as a new process would start
    _no_derivation(monkeypatch)
    again = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    assert again.public == first.public


def test_without_the_setting_nothing_is_cached(keys, monkeypatch):
    monkeypatch.delenv(session_cache.ENV, raising=False)
    linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    path = secret_path(keys, "ssis")
    assert session_cache.fetch(path, path.read_bytes()) is None


def test_a_replaced_key_file_is_unlocked_afresh_not_served_stale(keys, monkeypatch):
    monkeypatch.setenv(session_cache.ENV, "60")
    linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    # The file at the same path now holds another party's keys (a restore, a new key).
    shutil.copyfile(secret_path(keys, "building"), secret_path(keys, "ssis"))
    party._unlock.cache_clear()
    assert linkage.load_party_secret(keys, "ssis", PASSPHRASE).public.id == "building"


def test_a_cached_key_expires(keys, monkeypatch):
    monkeypatch.setenv(session_cache.ENV, "1")
    linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    path = secret_path(keys, "ssis")
    assert session_cache.fetch(path, path.read_bytes()) is not None
    time.sleep(2.2)
    assert session_cache.fetch(path, path.read_bytes()) is None


def test_the_cached_key_is_written_to_no_file_of_the_workspace(keys, monkeypatch, tmp_path):
    monkeypatch.setenv(session_cache.ENV, "60")
    secret = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    identity = str(secret.identity).encode()
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert identity not in file.read_bytes(), file


def test_a_malformed_setting_is_refused_naming_it(keys, monkeypatch):
    monkeypatch.setenv(session_cache.ENV, "ten minutes")
    with pytest.raises(linkage.LinkageError, match=session_cache.ENV):
        linkage.load_party_secret(keys, "ssis", PASSPHRASE)
