"""Keyed Bloom-filter encodings (CLKs) of one identifier field, and their Dice similarity.

Each gram sets ``k`` bits whose positions come from ``HMAC(project_key, field tag, salt,
gram)``: without the project key nobody can compute which bits a guessed name would set.
Positions are computed once per distinct gram and scattered over all records with numpy.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkage.fuzzy.grams import MAX_SALTS, as_jamo, bigram_codes, codepoints, gram_message
from linkage.fuzzy.params import FieldEncoding

CHUNK = 100_000


def gram_positions(project_key: bytes, encoding: FieldEncoding, messages: list[bytes]
                   ) -> np.ndarray:
    """``(len(messages), k)`` bit positions: k independent 16-bit slices of HMACs."""
    per_digest = 16
    rounds = -(-encoding.hashes // per_digest)
    out = np.empty((len(messages), rounds * per_digest), dtype=np.uint16)
    for r in range(rounds):
        prefix = encoding.tag + b"\x1f" + bytes([r])
        digests = b"".join(hmac.digest(project_key, prefix + m, hashlib.sha256)
                           for m in messages)
        out[:, r * per_digest:(r + 1) * per_digest] = np.frombuffer(
            digests, dtype=">u2").reshape(len(messages), per_digest)
    # bits is a power of two, so the modulus keeps positions uniform.
    return (out[:, :encoding.hashes] % encoding.bits).astype(np.int64)


def permutation(project_key: bytes, encoding: FieldEncoding, size: int) -> np.ndarray:
    """A bit order known only to the holders, so balancing's complement bits are hidden."""
    seed = hmac.digest(project_key, encoding.tag + b"\x1fpermutation", hashlib.sha256)
    return np.random.default_rng(np.frombuffer(seed, dtype=np.uint32)).permutation(size)


def output_bits(encoding: FieldEncoding, hardening: str) -> int:
    return {"balance": 2 * encoding.bits, "xor_fold": encoding.bits // 2,
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
    salt_ids = None
    salt_names = [""]
    if salts is not None:
        valid = pc.and_(valid, pc.is_valid(salts))
        encoded = pc.dictionary_encode(pc.fill_null(salts, ""))
        combined = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
        # The attribute's name keeps two salts with one value (a year, a postcode) apart.
        salt_names = [f"{salt_name}={v}" for v in combined.dictionary.to_pylist()]
        if len(salt_names) > MAX_SALTS:
            raise ValueError(f"field {encoding.kind}: more than {MAX_SALTS} salt values")
        salt_ids = combined.indices.to_numpy(zero_copy_only=False).astype(np.uint64)
    valid_np = valid.to_numpy(zero_copy_only=False)
    values = pc.if_else(valid, values, pa.scalar(None, pa.string())).to_pylist()
    n = len(values)
    width = output_bits(encoding, hardening)
    packed = np.zeros((n, width // 8), dtype=np.uint8)
    perm = permutation(project_key, encoding, 2 * encoding.bits) if hardening == "balance" \
        else None
    cache: dict[tuple[int, ...], np.ndarray] = {}
    salt_shift = 2 * 21 + 6
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        grams = bigram_codes(codepoints(values[start:stop]), positional=encoding.positional,
                             salts=None if salt_ids is None else salt_ids[start:stop],
                             q=encoding.q)
        keys = grams.keys()
        distinct, inverse = np.unique(keys, axis=0 if keys.ndim == 2 else None,
                                      return_inverse=True)
        inverse = inverse.reshape(-1)
        found = [tuple(int(x) for x in np.atleast_1d(d)) for d in distinct]
        new = [g for g in found if g not in cache]
        if new:
            messages = [gram_message(g[0], salt_names[g[0] >> salt_shift], *g[1:])
                        for g in new]
            for gram, row in zip(new, gram_positions(project_key, encoding, messages),
                                 strict=True):
                cache[gram] = row
        table = np.stack([cache[g] for g in found]) if found else \
            np.zeros((0, encoding.hashes), dtype=np.int64)
        bits = np.zeros((stop - start, encoding.bits), dtype=bool)
        positions = table[inverse]
        bits[np.repeat(grams.rows, encoding.hashes), positions.ravel()] = True
        packed[start:stop] = np.packbits(_harden(bits, hardening, perm), axis=1,
                                         bitorder="little")
    packed[~valid_np] = 0
    return packed, valid_np


def _harden(bits: np.ndarray, hardening: str, perm: np.ndarray | None) -> np.ndarray:
    if hardening == "balance":
        # Every filter then sets exactly half its bits: its weight no longer tells the
        # length of the name, and a frequent gram's bits are mixed with complement bits.
        return np.concatenate([bits, ~bits], axis=1)[:, perm]
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
