"""age v1 files (https://age-encryption.org/v1) to and from X25519 keys, with the payload's
chunks sealed and opened on several threads.

Why not pyrage here: it holds the GIL and runs ChaCha20-Poly1305 at about 300 MB/s, so a
stage that sealed its 1.4 GB keys file spent 5 s on one core however many it had. The
``cryptography`` package's ChaCha20-Poly1305 (OpenSSL) runs at about 2 GB/s a core and
lets other threads run for part of each call, and age's STREAM chunks are independent
(each has its own nonce), so a file's chunks are sealed or opened on several threads.
Only the primitives come from ``cryptography``; what this module adds is age's framing,
nothing of its own: files it writes are plain age (pyrage and the age tools read them) and
it reads theirs, which the tests check both ways.

Only what envelopes need: X25519 recipients and identities, binary (not armored) files.
Other stanzas in a header are skipped, as the spec allows; a malformed X25519 stanza, a
header over :data:`MAX_HEADER_BYTES`, a bad header MAC, a chunk that fails its tag, a
missing or early final chunk and bytes after it are all refused (:class:`AgeError`).

Imports nothing of ``linkage``: the envelope worker, run as a bare script, loads it from
its own folder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import bech32
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INTRO = b"age-encryption.org/v1\n"
X25519_LABEL = b"age-encryption.org/v1/X25519"
#: Plaintext bytes per STREAM chunk, and the Poly1305 tag each chunk carries.
CHUNK = 64 << 10
TAG = 16
FILE_KEY_BYTES = 16
NONCE_BYTES = 16
#: Chunks one thread seals or opens at a time (4 MiB): large enough that the pool's
#: overhead disappears, small enough that the work spreads over the threads.
TASK_CHUNKS = 64
#: An envelope's header holds one stanza (a few hundred bytes); a longer one is refused
#: before it is parsed further.
MAX_HEADER_BYTES = 64 << 10
_BODY_COLUMNS = 64
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


class AgeError(Exception):
    """Not an age file, altered, or truncated. The message says which part failed and
    holds nothing of the file's content."""


class NoIdentity(AgeError):
    """A sound age file with no stanza for this identity: encrypted to someone else."""


def recipient_key(text: str) -> bytes:
    """The 32-byte X25519 public key of an ``age1...`` recipient."""
    return _bech32_key(text, "age", "recipient")


def identity_key(text: str) -> bytes:
    """The 32-byte X25519 secret key of an ``AGE-SECRET-KEY-1...`` identity."""
    return _bech32_key(text, "age-secret-key-", "identity")


def _bech32_key(text: str, hrp: str, what: str) -> bytes:
    found, data = bech32.bech32_decode(text.strip())
    key = None if data is None else bech32.convertbits(data, 5, 8, False)
    if found != hrp or key is None or len(key) != 32:
        raise ValueError(f"not an age X25519 {what}")
    return bytes(key)


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes, where: str) -> bytes:
    """Decode age's unpadded base64, refusing padding and non-canonical trailing bits (the
    spec's canonical encoding: one file, one header MAC)."""
    if not set(text) <= _B64_ALPHABET or len(text) % 4 == 1:
        raise AgeError(f"age header: {where} is not canonical base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise AgeError(f"age header: {where} is not canonical base64") from None
    if _b64(data) != text:
        raise AgeError(f"age header: {where} is not canonical base64")
    return data


def _x25519_stanza(file_key: bytes, recipient: bytes) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    wrap_key = _hkdf(shared, share + recipient, X25519_LABEL)
    body = _b64(ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None))
    lines = [body[i:i + _BODY_COLUMNS] for i in range(0, len(body), _BODY_COLUMNS)]
    if len(body) % _BODY_COLUMNS == 0:
        lines.append(b"")  # the final line is always shorter than a full one
    return b"-> X25519 " + _b64(share) + b"\n" + b"".join(line + b"\n" for line in lines)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    return hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_into(source: BinaryIO, buffer: bytearray) -> memoryview:
    """Fill ``buffer`` from ``source``, short only at the end of the stream (a raw stream
    may hand out less than asked at any call): the part filled."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        count = source.readinto(view[filled:])
        if not count:
            break
        filled += count
    return view[:filled]


def _seal_task(aead: ChaCha20Poly1305, data: memoryview, counter: int, last: bool) -> bytes:
    out = []
    for start in range(0, max(len(data), 1), CHUNK):
        piece = data[start:start + CHUNK]
        final = last and start + CHUNK >= len(data)
        out.append(aead.encrypt(_nonce(counter, final), piece, None))
        counter += 1
    return b"".join(out)


def _open_task(aead: ChaCha20Poly1305, data: memoryview, counter: int, last: bool) -> bytes:
    size = CHUNK + TAG
    out = []
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        final = last and start + size >= len(data)
        if final and len(piece) == TAG and counter:
            raise AgeError("age payload: empty final chunk after data")
        try:
            out.append(aead.decrypt(_nonce(counter, final), piece, None))
        except InvalidTag:
            raise AgeError("age payload: a chunk fails authentication (altered, "
                           "truncated or extended)") from None
        counter += 1
    return b"".join(out)


def _stream(source: BinaryIO, sink: BinaryIO, aead: ChaCha20Poly1305, threads: int,
            unit: int, task: Callable[[ChaCha20Poly1305, memoryview, int, bool], bytes],
            empty_ok: bool) -> None:
    """Run ``task`` over the stream's chunks, ``threads`` tasks at a time, writing results
    in order while the next batch runs; the last chunk is known by reading one batch
    ahead. ``unit``: bytes of one chunk on the input side."""
    task_bytes = unit * TASK_CHUNKS
    batch_bytes = task_bytes * threads
    # The first batch is one chunk, so that a sink that refuses what it sees (a tar member
    # over its cap) stops the work after 64 KiB. Then three buffers turn over: one being
    # read into, one whose tasks run, one whose results are being written (its tasks are
    # done, so it may be refilled next).
    buffers: list[bytearray | None] = [None, None, None]  # made when first needed
    batch = _read_into(source, bytearray(unit))
    if not batch and not empty_ok:
        raise AgeError("age payload: missing (the file ends after its header)")
    full = len(batch) == unit
    counter = 0
    pending: list[Future[bytes]] = []
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="age")
    try:
        for turn in itertools.count():
            if full:
                buffer = buffers[turn % 3]
                if buffer is None:
                    buffer = buffers[turn % 3] = bytearray(batch_bytes)
                ahead = _read_into(source, buffer)
            else:
                ahead = memoryview(b"")
            last = not ahead
            running = []
            for start in range(0, max(len(batch), 1), task_bytes):
                piece = batch[start:start + task_bytes]
                final = last and start + task_bytes >= len(batch)
                running.append(pool.submit(task, aead, piece, counter, final))
                counter += max(1, -(-len(piece) // unit))
            for future in pending:
                sink.write(future.result())
            pending = running
            if last:
                break
            batch, full = ahead, len(ahead) == batch_bytes
        for future in pending:
            sink.write(future.result())
    finally:
        pool.shutdown(cancel_futures=True)


def encrypt(source: BinaryIO, sink: BinaryIO, recipients: Sequence[bytes],
            threads: int = 1) -> None:
    """Encrypt everything ``source`` reads to ``sink`` as an age file for ``recipients``
    (raw X25519 public keys, :func:`recipient_key`), on ``threads`` threads."""
    if not recipients:
        raise ValueError("an age file needs at least one recipient")
    file_key = os.urandom(FILE_KEY_BYTES)
    header = INTRO + b"".join(_x25519_stanza(file_key, r) for r in recipients) + b"---"
    sink.write(header + b" " + _b64(_header_mac(file_key, header)) + b"\n")
    nonce = os.urandom(NONCE_BYTES)
    sink.write(nonce)
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    _stream(source, sink, aead, max(1, threads), CHUNK, _seal_task, empty_ok=True)


def decrypt(source: BinaryIO, sink: BinaryIO, identity: bytes, threads: int = 1) -> None:
    """Decrypt the age file ``source`` reads to ``sink`` with ``identity`` (a raw X25519
    secret key, :func:`identity_key`), on ``threads`` threads. ``source`` must support
    ``readline`` (a buffered file). A sink may raise to stop the decryption."""
    file_key = _file_key(source, identity)
    nonce = source.read(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise AgeError("age payload: missing (the file ends after its header)")
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    _stream(source, sink, aead, max(1, threads), CHUNK + TAG, _open_task, empty_ok=False)


def _file_key(source: BinaryIO, identity: bytes) -> bytes:
    """Parse the header, unwrap the file key with ``identity`` and check the header MAC."""
    read = 0

    def line() -> bytes:
        nonlocal read
        text = source.readline(MAX_HEADER_BYTES - read + 1)
        read += len(text)
        if read > MAX_HEADER_BYTES:
            raise AgeError(f"age header: longer than {MAX_HEADER_BYTES} bytes")
        if not text.endswith(b"\n"):
            raise AgeError("age header: truncated")
        return text

    if line() != INTRO:
        raise AgeError("not an age v1 file")
    head = bytearray(INTRO)
    stanzas: list[tuple[list[bytes], bytes]] = []
    while True:
        text = line()
        if text.startswith(b"--- "):
            head += b"---"
            mac = _unb64(text[4:-1], "the MAC")
            break
        if not text.startswith(b"-> "):
            raise AgeError("age header: a line that is neither a stanza nor the MAC")
        head += text
        args = text[3:-1].split(b" ")
        if not all(arg and all(33 <= ch <= 126 for ch in arg) for arg in args):
            raise AgeError("age header: a stanza with an empty or invalid argument")
        body = bytearray()
        while True:
            body_line = line()
            head += body_line
            if len(body_line) - 1 > _BODY_COLUMNS:
                raise AgeError("age header: a stanza body line longer than 64 columns")
            body += body_line[:-1]
            if len(body_line) - 1 < _BODY_COLUMNS:
                break
        stanzas.append((args, _unb64(bytes(body), "a stanza body")))
    if len(mac) != 32:
        raise AgeError("age header: the MAC is not 32 bytes")
    secret = X25519PrivateKey.from_private_bytes(identity)
    public = secret.public_key().public_bytes_raw()
    for args, body in stanzas:
        if args[0] != b"X25519":
            continue
        if len(args) != 2 or len(body) != FILE_KEY_BYTES + TAG:
            raise AgeError("age header: malformed X25519 stanza")
        share = _unb64(args[1], "an X25519 share")
        if len(share) != 32:
            raise AgeError("age header: malformed X25519 stanza")
        try:
            shared = secret.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:  # a low-order share: the shared secret would be all zeros
            raise AgeError("age header: X25519 share of low order") from None
        wrap_key = _hkdf(shared, share + public, X25519_LABEL)
        try:
            file_key = ChaCha20Poly1305(wrap_key).decrypt(bytes(12), body, None)
        except InvalidTag:
            continue  # a stanza for another recipient
        if not hmac.compare_digest(_header_mac(file_key, bytes(head)), mac):
            raise AgeError("age header: the MAC does not match (altered header)")
        return file_key
    raise NoIdentity("age file: no stanza for this identity")
