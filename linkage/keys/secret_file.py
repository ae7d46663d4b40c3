"""A party's private keys at rest: scrypt from the passphrase, then AES-256-GCM.

Layout (all integers big-endian)::

    magic    9 bytes  b"PLSECRET\\n"
    version  1 byte   1
    log2_n   1 byte   scrypt cost: n = 2**log2_n
    r        1 byte   scrypt block size
    p        1 byte   scrypt parallelism
    salt     16 bytes random
    nonce    12 bytes random
    sealed   the rest: AES-256-GCM ciphertext and 16-byte tag; the header above is its
             associated data, so changing any parameter makes the file fail to open.

Why these scrypt parameters (n=2**17, r=8, p=1): each guess at the passphrase costs
128 MiB of memory and about a third of a second on one core, so an attacker holding a
copied key file gains little from GPUs or custom hardware (scrypt's memory-hardness), and
a dictionary of 10**9 guesses costs ~10 core-years; yet every CLI command, which unlocks
keys once, stays well under a second and a few hundred MiB. They are fixed and written in
the file rather than chosen by timing, so cost is the same on every machine and a file's
cost can be raised later (version or log2_n) without breaking old files.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"PLSECRET\n"
VERSION = 1
LOG2_N, R, P = 17, 8, 1
SALT_BYTES, NONCE_BYTES = 16, 12
_HEADER = struct.Struct(f">{len(MAGIC)}sBBBB{SALT_BYTES}s{NONCE_BYTES}s")
# A crafted file must not make an unlock take gigabytes: refuse costs far above ours.
MAX_LOG2_N, MAX_R, MAX_P = 20, 16, 4


class WrongPassphrase(Exception):
    """The passphrase does not open the file, or the file was altered."""


def is_secret_file(data: bytes) -> bool:
    return data.startswith(MAGIC)


def _key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(
        passphrase.encode("utf-8"))


def seal_secret(plaintext: bytes, passphrase: str) -> bytes:
    """Encrypt ``plaintext`` under ``passphrase`` in the format above.

    >>> blob = seal_secret(b"secret", "pass")
    >>> blob[:9], open_secret(blob, "pass")
    (b'PLSECRET\\n', b'secret')
    """
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    header = _HEADER.pack(MAGIC, VERSION, LOG2_N, R, P, salt, nonce)
    key = _key(passphrase, salt, LOG2_N, R, P)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def open_secret(data: bytes, passphrase: str) -> bytes:
    """Decrypt a file made by :func:`seal_secret`; :class:`WrongPassphrase` if it will not open.

    >>> open_secret(seal_secret(b"x", "right"), "wrong")
    Traceback (most recent call last):
    linkage.keys.secret_file.WrongPassphrase: wrong passphrase or altered file
    """
    if len(data) < _HEADER.size + 16 or not is_secret_file(data):
        raise ValueError("not a pseudolink party secret file")
    _magic, version, log2_n, r, p, salt, nonce = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ValueError(f"party secret file version {version} is not supported (only "
                         f"{VERSION}); a newer pseudolink wrote it")
    if not (1 <= log2_n <= MAX_LOG2_N and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
        raise ValueError(f"party secret file asks for scrypt n=2**{log2_n}, r={r}, p={p}, "
                         "beyond what pseudolink writes")
    header = data[:_HEADER.size]
    try:
        return AESGCM(_key(passphrase, salt, log2_n, r, p)).decrypt(
            nonce, data[_HEADER.size:], header)
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase or altered file") from None
