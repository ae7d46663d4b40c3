"""Envelopes' age files: plain age both ways (pyrage, the age tool), and every altered,
cut or extended file refused."""

from __future__ import annotations

import io
import os
import shutil
import subprocess

import pyrage
import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from linkage import age_v1
from tests.conftest import skip_unless_ci

CHUNK = age_v1.CHUNK
# Chunk and task edges: empty, one byte, a chunk and either side, a task (64 chunks) and
# either side, several tasks with a short tail.
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 64 * CHUNK, 64 * CHUNK + 1, 129 * CHUNK - 7]


@pytest.fixture(scope="module")
def keys():
    identity = pyrage.x25519.Identity.generate()
    return identity, age_v1.identity_key(str(identity)), \
        age_v1.recipient_key(str(identity.to_public()))


def _seal(data: bytes, recipients, threads: int = 2) -> bytes:
    out = io.BytesIO()
    age_v1.encrypt(io.BytesIO(data), out, recipients, threads)
    return out.getvalue()


def _open(sealed: bytes, identity: bytes, threads: int = 2) -> bytes:
    out = io.BytesIO()
    age_v1.decrypt(io.BufferedReader(io.BytesIO(sealed)), out, identity, threads)
    return out.getvalue()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("threads", [1, 3])
def test_files_pass_both_ways_with_pyrage(keys, size, threads):
    identity, secret, public = keys
    data = os.urandom(size)
    assert pyrage.decrypt(_seal(data, [public], threads), [identity]) == data
    assert _open(pyrage.encrypt(data, [identity.to_public()]), secret, threads) == data


def test_files_pass_both_ways_with_the_age_tool(tmp_path, keys):
    if shutil.which("age") is None:
        skip_unless_ci("the Debian `age` tool is not installed")
    identity, secret, public = keys
    key_file = tmp_path / "key.txt"
    key_file.write_text(str(identity) + "\n")
    key_file.chmod(0o600)
    for size in (0, CHUNK, 3 * 64 * CHUNK + 5):
        data = os.urandom(size)
        ours = tmp_path / "ours.age"
        ours.write_bytes(_seal(data, [public]))
        opened = subprocess.run(["age", "--decrypt", "-i", str(key_file), str(ours)],
                                capture_output=True, check=True).stdout
        assert opened == data
        theirs = subprocess.run(["age", "--encrypt", "-r", str(identity.to_public())],
                                input=data, capture_output=True, check=True).stdout
        assert _open(theirs, secret) == data


def test_each_recipient_opens_a_file_for_several(keys):
    identity, _, public = keys
    other = pyrage.x25519.Identity.generate()
    sealed = _seal(b"shared", [public, age_v1.recipient_key(str(other.to_public()))])
    assert pyrage.decrypt(sealed, [identity]) == b"shared"
    assert _open(sealed, age_v1.identity_key(str(other))) == b"shared"


def test_a_file_for_someone_else_is_no_identity(keys):
    _, _, public = keys
    stranger = age_v1.identity_key(str(pyrage.x25519.Identity.generate()))
    with pytest.raises(age_v1.NoIdentity):
        _open(_seal(b"x" * 100, [public]), stranger)


def _payload_start(sealed: bytes) -> int:
    return sealed.index(b"\n", sealed.index(b"\n--- ") + 1) + 1 + age_v1.NONCE_BYTES


@pytest.mark.parametrize("change", [
    "flip a payload byte", "cut the last chunk", "cut inside the last chunk",
    "append a byte", "append a chunk", "nothing after the header",
])
def test_altered_cut_or_extended_payloads_are_refused(keys, change):
    _, secret, public = keys
    sealed = _seal(os.urandom(3 * CHUNK + 10), [public])
    start, size = _payload_start(sealed), CHUNK + age_v1.TAG
    changed = {
        "flip a payload byte": sealed[:start + 5] + bytes([sealed[start + 5] ^ 1])
        + sealed[start + 6:],
        # Three full chunks stay: the third was sealed as not final.
        "cut the last chunk": sealed[:start + 3 * size],
        "cut inside the last chunk": sealed[:-3],
        "append a byte": sealed + b"\0",
        "append a chunk": sealed + sealed[start:start + size],
        "nothing after the header": sealed[:start - age_v1.NONCE_BYTES],
    }[change]
    with pytest.raises(age_v1.AgeError):
        _open(changed, secret)


def _handmade(file_key: bytes, public: bytes, chunks: list[tuple[bytes, bool]]) -> bytes:
    """An age file whose chunks and final flags the test chooses."""
    header = age_v1.INTRO + age_v1._x25519_stanza(file_key, public) + b"---"
    nonce = os.urandom(age_v1.NONCE_BYTES)
    aead = ChaCha20Poly1305(age_v1._hkdf(file_key, nonce, b"payload"))
    body = b"".join(aead.encrypt(age_v1._nonce(i, last), data, None)
                    for i, (data, last) in enumerate(chunks))
    return header + b" " + age_v1._b64(age_v1._header_mac(file_key, header)) + b"\n" \
        + nonce + body


def test_an_empty_final_chunk_after_data_is_refused(keys):
    # The spec allows an empty final chunk only for an empty file; pyrage refuses it too.
    identity, secret, public = keys
    key = os.urandom(16)
    assert _open(_handmade(key, public, [(b"a" * CHUNK, True)]), secret) == b"a" * CHUNK
    sealed = _handmade(key, public, [(b"a" * CHUNK, False), (b"", True)])
    with pytest.raises(age_v1.AgeError, match="empty final chunk"):
        _open(sealed, secret)
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [identity])


def test_a_short_chunk_before_the_end_is_refused(keys):
    # Chunk edges are implicit (every 64 KiB): the two short chunks read as one final
    # chunk, whose tag fails.
    _, secret, public = keys
    sealed = _handmade(os.urandom(16), public, [(b"a" * 10, False), (b"b" * 10, True)])
    with pytest.raises(age_v1.AgeError, match="fails authentication"):
        _open(sealed, secret)


def _mac_line(sealed: bytes) -> tuple[int, int]:
    start = sealed.index(b"\n--- ") + 5
    return start, sealed.index(b"\n", start)


@pytest.mark.parametrize("change", [
    "altered MAC", "MAC with padding", "MAC with non-canonical bits", "stanza swapped",
    "unknown stanza added", "no MAC line", "not age",
])
def test_headers_that_do_not_verify_are_refused(keys, change):
    _, secret, public = keys
    sealed = _seal(b"payload", [public])
    start, end = _mac_line(sealed)
    mac = sealed[start:end]
    other = _seal(b"payload", [public])
    changed = {
        "altered MAC": sealed[:start] + (b"A" if mac[:1] != b"A" else b"B") + sealed[start + 1:],
        "MAC with padding": sealed[:end] + b"=" + sealed[end:],
        # 32 bytes are 43 base64 characters whose last carries two unused bits.
        "MAC with non-canonical bits": sealed[:end - 1] + _flip_unused_bit(mac[-1:])
        + sealed[end:],
        # A stanza from another file unwraps another file key: the MAC no longer matches.
        "stanza swapped": other[:other.index(b"\n--- ")] + sealed[sealed.index(b"\n--- "):],
        # A stanza the receiver skips is still covered by the MAC.
        "unknown stanza added": sealed[:len(age_v1.INTRO)] + b"-> grease x\n\n"
        + sealed[len(age_v1.INTRO):],
        "no MAC line": sealed[:start - 5] + b"\n",
        "not age": b"age-encryption.org/v2\n" + sealed[len(age_v1.INTRO):],
    }[change]
    with pytest.raises(age_v1.AgeError):
        _open(changed, secret)


def _flip_unused_bit(last: bytes) -> bytes:
    """The final base64 character of 32 bytes with one of its two unused low bits flipped:
    the same bytes, written another way."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return bytes([alphabet[alphabet.index(last) ^ 1]])


def test_a_low_order_share_is_refused(keys):
    # The all-zero point gives an all-zero shared secret: the spec says refuse, not skip.
    _, secret, public = keys
    sealed = _seal(b"payload", [public])
    zero = age_v1._b64(bytes(32))
    line_end = sealed.index(b"\n", len(age_v1.INTRO))
    forged = sealed[:len(age_v1.INTRO)] + b"-> X25519 " + zero + sealed[line_end:]
    with pytest.raises(age_v1.AgeError, match="low order"):
        _open(forged, secret)


def test_a_huge_header_is_refused_before_it_is_read(keys):
    _, secret, _ = keys
    endless = age_v1.INTRO + b"-> grease\n" + b"A" * (64 * 1024 * 4) + b"\n"
    with pytest.raises(age_v1.AgeError, match=r"longer than|64 columns"):
        _open(endless, secret)
    no_newline = age_v1.INTRO + b"-> X25519 " + b"A" * (age_v1.MAX_HEADER_BYTES + 10)
    with pytest.raises(age_v1.AgeError, match="longer than"):
        _open(no_newline, secret)


def test_key_strings_are_checked():
    identity = pyrage.x25519.Identity.generate()
    with pytest.raises(ValueError, match="recipient"):
        age_v1.recipient_key(str(identity))  # a secret key where a recipient belongs
    with pytest.raises(ValueError, match="identity"):
        age_v1.identity_key(str(identity.to_public()))
    text = str(identity.to_public())
    with pytest.raises(ValueError):
        age_v1.recipient_key(text[:-1] + ("q" if text[-1] != "q" else "p"))  # checksum
