"""Linkage keys: HMAC-SHA256 under the project key, computed over whole columns in DuckDB.

A key is ``HMAC(project_key, recipe.tag || 0x1F || v1 || 0x1F || v2 ...)`` over the
normalised values. The recipe tag keeps keys of different recipes unrelated. DuckDB has
``sha256`` but no ``hmac``, so HMAC is spelt out from its definition (RFC 2104):
``sha256((K ^ opad) || sha256((K ^ ipad) || message))``, with K padded to the 64-byte block.
A test holds the SQL to Python's :mod:`hmac` on random input.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a normalised value
BLOCK = 64


def linkage_key(project_key: bytes, tag: bytes, values: Sequence[str]) -> bytes:
    """The reference definition, one record at a time.

    >>> linkage_key(bytes(32), b"t", ["a", "b"]).hex()[:16]
    '06ab8a6d8d171a5f'
    """
    message = tag + (SEPARATOR + SEPARATOR.join(values)).encode("utf-8")
    return hmac.new(project_key, message, hashlib.sha256).digest()


def hmac_pads(project_key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad), the two constants the SQL form needs."""
    key = project_key if len(project_key) <= BLOCK else hashlib.sha256(project_key).digest()
    key = key.ljust(BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sql(message_sql: str, inner_param: str = "$ipad", outer_param: str = "$opad") -> str:
    """A DuckDB expression giving the 32-byte HMAC (BLOB) of a BLOB expression."""
    return (f"unhex(sha256({outer_param} || unhex(sha256({inner_param} || ({message_sql})))))")


def recipe_message_sql(tag: bytes, columns: Sequence[str]) -> str:
    """The message of a recipe as a DuckDB BLOB expression over quoted column names."""
    parts = " || ".join(f"chr(31) || {quote(c)}" for c in columns)
    return f"{sql_blob(tag)} || encode({parts})"


def sql_blob(data: bytes) -> str:
    return f"from_hex('{data.hex()}')"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
