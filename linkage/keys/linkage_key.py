"""Linkage keys: HMAC-SHA256 under the project key.

A key is ``HMAC(project_key, recipe.tag || 0x1F || v1 || 0x1F || v2 ...)`` over the
normalised values. The recipe tag keeps keys of different recipes unrelated. This module
holds the reference definition, one record at a time; whole columns are hashed by
:mod:`linkage.keys.batch_hmac`, and where an engine's SQL has ``sha256`` but no ``hmac``
(Spark), HMAC is spelt out from its definition (RFC 2104) with :func:`hmac_pads`:
``sha256((K ^ opad) || sha256((K ^ ipad) || message))``, K padded to the 64-byte block.
Tests hold every form to Python's :mod:`hmac`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from linkage.keys.batch_hmac import hmac_sha256_column

SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a normalised value
BLOCK = 64


def linkage_key(project_key: bytes, tag: bytes, values: Sequence[str]) -> bytes:
    """The reference definition, one record at a time.

    >>> linkage_key(bytes(32), b"t", ["a", "b"]).hex()[:16]
    '06ab8a6d8d171a5f'
    """
    message = tag + (SEPARATOR + SEPARATOR.join(values)).encode("utf-8")
    return hmac.new(project_key, message, hashlib.sha256).digest()


def linkage_key_column(project_key: bytes, tag: bytes, parts: Sequence[pa.Array],
                       threads: int | None = None) -> pa.Array:
    """:func:`linkage_key` over whole columns (binary): each row's parts, null where any
    part is null, hashed by :mod:`linkage.keys.batch_hmac`."""
    messages = pc.binary_join_element_wise(
        pa.scalar(tag, pa.binary()), *(pc.cast(p, pa.binary()) for p in parts),
        pa.scalar(SEPARATOR.encode(), pa.binary()))
    return hmac_sha256_column(project_key, messages, threads).cast(pa.binary())


def hmac_pads(project_key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad), the two constants an SQL form of HMAC needs."""
    key = project_key if len(project_key) <= BLOCK else hashlib.sha256(project_key).digest()
    key = key.ljust(BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
