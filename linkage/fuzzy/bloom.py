"""Keyed Bloom-filter encodings (CLKs) of one identifier field, and their Dice similarity.

Each gram sets ``k`` bits whose positions come from ``HMAC(project_key, field tag, salt,
gram)``: without the project key nobody can compute which bits a guessed name would set.
Positions are computed once per distinct gram and scattered over all records with numpy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkage.fuzzy.grams import MAX_SALTS, as_jamo, bigram_codes, codepoints, gram_messages
from linkage.fuzzy.params import FieldEncoding
from linkage.keys.batch_hmac import hmac_sha256_column, native_available

CHUNK = 100_000


def _digests(project_key: bytes, messages: pa.Array, native: bool) -> bytes:
    """The concatenated HMAC-SHA256 of each message (OpenSSL in batch where built)."""
    if native and len(messages):
        column = hmac_sha256_column(project_key, messages)
        return column.buffers()[1].to_pybytes()
    return b"".join(hmac.digest(project_key, m, hashlib.sha256)
                    for m in messages.to_pylist())


def _prefixed(prefix: bytes, messages: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.binary()), messages,
                                       pa.scalar(b"", pa.binary()))


def gram_positions(project_key: bytes, encoding: FieldEncoding,
                   messages: list[bytes] | pa.Array, *, native: bool | None = None
                   ) -> np.ndarray:
    """``(len(messages), k)`` bit positions: k independent 16-bit slices of HMACs.

    ``native`` (default: where the OpenSSL helper is built) computes the same HMACs in one
    batch call instead of one Python call per gram: a prepare's main cost.
    """
    native = native_available() if native is None else native
    if not isinstance(messages, pa.Array):
        messages = pa.array(messages, pa.binary())
    per_digest = 16
    rounds = -(-encoding.hashes // per_digest)
    out = np.empty((len(messages), rounds * per_digest), dtype=np.uint16)
    for r in range(rounds):
        prefix = encoding.tag + b"\x1f" + bytes([r])
        digests = _digests(project_key, _prefixed(prefix, messages), native)
        out[:, r * per_digest:(r + 1) * per_digest] = np.frombuffer(
            digests, dtype=">u2").reshape(len(messages), per_digest)
    # bits is a power of two, so the modulus keeps positions uniform.
    return (out[:, :encoding.hashes] % encoding.bits).astype(np.int64)


#: Positions hashed per gram under ``fixed_weight``: a value of one gram takes them all.
MAX_GRAM_POSITIONS = 32


def value_positions(encoding: FieldEncoding) -> int:
    """Hash positions each value sets under ``fixed_weight``, whatever its length: a
    quarter of the filter, so that after collisions about a fifth of the bits are set."""
    return encoding.bits // 4


def output_bits(encoding: FieldEncoding, hardening: str) -> int:
    return {"fixed_weight": encoding.bits, "xor_fold": encoding.bits // 2,
            "none": encoding.bits}[hardening]


def encode(values: pa.Array, encoding: FieldEncoding, project_key: bytes, hardening: str,
           salts: pa.Array | None = None, salt_name: str = "salt"
           ) -> tuple[np.ndarray, np.ndarray]:
    """Encode one normalised column: packed filters ``(n, bytes)`` and a validity mask.

    With ``salts`` (the values of the record attribute ``salt_name``), each gram's hash
    also covers the record's salt. A null value, or a null salt, gives no filter.
    """
    if encoding.jamo:
        values = as_jamo(values)
    valid = pc.is_valid(values)
    if salts is not None:
        valid = pc.and_(valid, pc.is_valid(salts))
        salts = salts.combine_chunks() if isinstance(salts, pa.ChunkedArray) else salts
    valid_np = valid.to_numpy(zero_copy_only=False)
    values = pc.if_else(valid, values, pa.scalar(None, pa.string())).to_pylist()
    n = len(values)
    width = output_bits(encoding, hardening)
    packed = np.zeros((n, width // 8), dtype=np.uint8)
    fixed = hardening == "fixed_weight"
    per_gram = replace(encoding, hashes=MAX_GRAM_POSITIONS) if fixed else encoding
    # Salt ids are numbered per chunk: a salt of many values (a street address) then never
    # outgrows the id's bits, and a gram's message carries the salt's value, not its id.
    chunk = min(CHUNK // 4 if fixed else CHUNK, MAX_SALTS)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        salt_ids, salt_names = None, [""]
        if salts is not None:
            encoded = pc.dictionary_encode(pc.fill_null(salts.slice(start, stop - start), ""))
            # The attribute's name keeps two salts with one value (a year, a postcode) apart.
            salt_names = [f"{salt_name}={v}" for v in encoded.dictionary.to_pylist()]
            salt_ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.uint64)
        grams = bigram_codes(codepoints(values[start:stop]), positional=encoding.positional,
                             salts=salt_ids, q=encoding.q)
        keys = grams.keys()
        distinct, inverse = np.unique(keys, axis=0 if keys.ndim == 2 else None,
                                      return_inverse=True)
        inverse = inverse.reshape(-1)
        table = gram_positions(project_key, per_gram, gram_messages(distinct, salt_names))
        bits = np.zeros((stop - start, encoding.bits), dtype=bool)
        if fixed:
            _set_fixed_weight(bits, grams.rows, inverse, table, value_positions(encoding))
        else:
            positions = table[inverse]
            bits[np.repeat(grams.rows, encoding.hashes), positions.ravel()] = True
        packed[start:stop] = np.packbits(_harden(bits, hardening), axis=1,
                                         bitorder="little")
    packed[~valid_np] = 0
    return packed, valid_np


def _set_fixed_weight(bits: np.ndarray, rows: np.ndarray, grams: np.ndarray,
                      table: np.ndarray, total: int) -> None:
    """Set ``total`` hash positions per value, shared out among its distinct grams.

    Each of a value's n grams takes ``total // n`` of its positions, and the first
    ``total % n`` grams in a keyed order (their own first positions) take one more: a short
    and a long name then set the same number of bits, so a filter's weight says nothing of
    the length, and the key manager has no added structure (such as balancing's complement
    bits) to peel off. A gram keeps the prefix of its positions whatever the value's length,
    so a name and its typo still share most of their bits.
    """
    if not len(rows):
        return
    # Order each value's grams by a keyed value (two of the gram's positions, < 2**20), not
    # by the gram itself, so which grams get the extra position reveals nothing. One int64
    # sort key (row, keyed value, gram) also drops a gram repeated within a value.
    distinct = np.int64(len(table))
    keyed = (table[:, -1] * 1024 + table[:, -2]).astype(np.int64)
    order = np.sort((rows.astype(np.int64) << 20 | keyed[grams]) * distinct + grams)
    order = order[np.r_[True, order[1:] != order[:-1]]]
    rows, grams = order // distinct >> 20, order % distinct
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    counts = np.diff(np.r_[starts, len(rows)])
    per_value = np.repeat(counts, counts)
    rank = np.arange(len(rows)) - np.repeat(starts, counts)
    take = np.minimum(total // per_value + (rank < total % per_value), table.shape[1])
    for j in range(int(take.max())):
        chosen = take > j
        bits[rows[chosen], table[grams[chosen], j]] = True


def _harden(bits: np.ndarray, hardening: str) -> np.ndarray:
    if hardening == "xor_fold":
        half = bits.shape[1] // 2
        return bits[:, :half] ^ bits[:, half:]
    return bits


def to_arrow(packed: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Packed filters as a fixed-size binary column, null where there is no filter."""
    n, width = packed.shape
    array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [None, pa.py_buffer(np.ascontiguousarray(packed).tobytes())])
    return pc.if_else(pa.array(valid, pa.bool_()), array, pa.scalar(None, pa.binary(width)))


@dataclass(frozen=True)
class Filters:
    """One field's filters at the key manager: uint64 words, popcounts, validity."""

    words: np.ndarray
    counts: np.ndarray
    valid: np.ndarray


def from_arrow(column: pa.Array | pa.ChunkedArray) -> Filters:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    if width % 8:
        raise ValueError(f"filters of {width} bytes are not whole 64-bit words")
    data = np.frombuffer(column.buffers()[1], dtype=np.uint8)
    data = data[column.offset * width:(column.offset + len(column)) * width]
    words = data.view(np.uint64).reshape(len(column), width // 8)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    counts = np.bitwise_count(words).sum(axis=1, dtype=np.int32)
    return Filters(words, counts, valid)


def filters_of(table: pa.Table, columns: Sequence[str], workers: int = 1
               ) -> dict[str, Filters]:
    """:func:`from_arrow` of several columns of ``table``, on up to ``workers`` threads.

    Counting a million records' bits per column is numpy work that releases the GIL, and
    the comparison's threads wait for every column's counts before they start.
    """
    def one(column: str) -> Filters:
        return from_arrow(table.column(column))

    if workers <= 1 or len(columns) < 2:
        return {c: one(c) for c in columns}
    with ThreadPoolExecutor(max_workers=min(workers, len(columns)),
                            thread_name_prefix="filters") as pool:
        return dict(zip(columns, pool.map(one, columns), strict=True))


def dice(a: Filters, b: Filters, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Dice similarity of pairs ``(a[left[i]], b[right[i]])``; NaN where either is missing.

    >>> f = Filters(np.array([[0b1111], [0b0011]], dtype=np.uint64), np.array([4, 2]),
    ...             np.array([True, True]))
    >>> dice(f, f, np.array([0, 0]), np.array([0, 1])).round(3).tolist()
    [1.0, 0.667]
    """
    common = np.bitwise_count(a.words[left] & b.words[right]).sum(axis=1, dtype=np.int32)
    total = a.counts[left] + b.counts[right]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2.0 * common / total
    out[~(a.valid[left] & b.valid[right])] = np.nan
    return out
