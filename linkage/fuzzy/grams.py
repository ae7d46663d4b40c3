"""Q-grams of whole columns as integer codes, so that a column is hashed per distinct gram.

A gram code packs ``salt id (16 bits) | position (6) | left char (21) | right char (21)``
into one uint64: ``np.unique`` over the codes then gives the distinct grams of a column, and
only those are hashed (a million names share a few thousand jamo bigrams). Each value is
padded with a start and an end mark, so "AB" and "ABC" differ at the edges too.

Hangul names are compared as jamo: NFD splits a syllable into its conjoining jamo, so a
wrong vowel changes two bigrams out of about ten, not the two bigrams around a whole
syllable out of four.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

START, END = 1, 2  # code points that never survive normalisation
CHAR_BITS, POSITION_BITS, SALT_BITS = 21, 6, 16
MAX_POSITION = (1 << POSITION_BITS) - 1
MAX_SALTS = 1 << SALT_BITS


def as_jamo(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Hangul syllables decomposed into conjoining jamo; other text unchanged.

    >>> [len(v) for v in as_jamo(pa.array(["김민준", "KIM"])).to_pylist()]
    [9, 3]
    """
    return pc.utf8_normalize(values, "NFD")


def codepoints(values: list[str | None]) -> np.ndarray:
    """An ``(n, width)`` uint32 matrix of code points, zero-padded; null is an empty row.

    >>> codepoints(["ab", None]).tolist()
    [[97, 98], [0, 0]]
    """
    text = np.array([v or "" for v in values], dtype=str)
    width = max(text.dtype.itemsize // 4, 1)
    text = text.astype(f"U{width}")
    return text.view(np.uint32).reshape(len(values), width)


@dataclass(frozen=True)
class Grams:
    """The grams of a column: ``rows[i]`` holds gram ``codes[i]``; for trigrams ``extra[i]``
    is the third character (the first two and the place and salt are in ``codes``)."""

    rows: np.ndarray
    codes: np.ndarray
    extra: np.ndarray | None = None

    def keys(self) -> np.ndarray:
        """One row per gram, for ``np.unique``: the code, and the third character if any."""
        if self.extra is None:
            return self.codes
        return np.stack([self.codes, self.extra], axis=1)


def bigram_codes(points: np.ndarray, *, positional: bool = False,
                 salts: np.ndarray | None = None, q: int = 2) -> Grams:
    """Padded q-grams (q = 2 or 3) of each row as codes; ``positional`` keeps each gram's
    place.

    Digit strings (RRNs, phone numbers, dates) are positional: as a set of bigrams,
    "1234" and "3412" would look alike. Positions beyond 63 share the last position.

    >>> g = bigram_codes(codepoints(["ab"]))
    >>> [(int(c) >> 21 & 0x1FFFFF, int(c) & 0x1FFFFF) for c in g.codes]
    [(1, 97), (97, 98), (98, 2)]
    """
    n, width = points.shape
    lengths = np.count_nonzero(points, axis=1)
    padded = np.zeros((n, width + 2), dtype=np.uint64)
    padded[:, 1:width + 1] = points
    present = lengths > 0
    padded[present, 0] = START
    padded[np.flatnonzero(present), lengths[present] + 1] = END
    if q not in (2, 3):
        raise ValueError(f"q-grams of size {q}: use 2 or 3")
    stop = width + 3 - q
    left, right = padded[:, :stop], padded[:, 1:stop + 1]
    valid = (left != 0) & (right != 0)
    third = padded[:, 2:] if q == 3 else None
    if third is not None:
        valid &= third != 0
    rows, cols = np.nonzero(valid)
    codes = (left[rows, cols] << np.uint64(CHAR_BITS)) | right[rows, cols]
    if positional:
        place = np.minimum(cols, MAX_POSITION).astype(np.uint64)
        codes |= place << np.uint64(2 * CHAR_BITS)
    if salts is not None:
        codes |= salts[rows].astype(np.uint64) << np.uint64(2 * CHAR_BITS + POSITION_BITS)
    extra = None if third is None else third[rows, cols]
    return Grams(rows.astype(np.int64), codes, extra)


def gram_message(code: int, salt: str, extra: int | None = None) -> bytes:
    """The bytes hashed for one gram: the same gram and salt give the same bytes at every
    holder, whatever local salt numbering each used."""
    mask = (1 << CHAR_BITS) - 1
    right = code & mask
    left = (code >> CHAR_BITS) & mask
    place = (code >> (2 * CHAR_BITS)) & MAX_POSITION
    tail = b"" if extra is None else extra.to_bytes(3, "big")
    return (salt.encode("utf-8") + b"\x1f" + place.to_bytes(1, "big")
            + left.to_bytes(3, "big") + right.to_bytes(3, "big") + tail)


def gram_messages(distinct: np.ndarray, salts: list[str]) -> pa.Array:
    """:func:`gram_message` of many grams at once, as a binary column: ``distinct`` holds
    codes (or ``[code, third]`` rows) whose salt ids index ``salts``.

    Building each message in Python cost more than hashing it once a salt has many values
    (a street address gives nearly every name its own grams).

    >>> codes = bigram_codes(codepoints(["ab"]), salts=np.array([1], np.uint64)).codes
    >>> gram_messages(codes, ["", "year=1980"]).to_pylist() == [
    ...     gram_message(int(c), "year=1980") for c in codes]
    True
    """
    if distinct.ndim == 2:
        codes, third = distinct[:, 0], distinct[:, 1]
    else:
        codes, third = distinct, None
    codes = codes.astype(np.uint64)
    mask = np.uint64((1 << CHAR_BITS) - 1)
    width = 7 if third is None else 10
    fixed = np.empty((len(codes), width), dtype=np.uint8)
    fixed[:, 0] = (codes >> np.uint64(2 * CHAR_BITS)) & np.uint64(MAX_POSITION)
    for offset, value in ((1, (codes >> np.uint64(CHAR_BITS)) & mask), (4, codes & mask),
                          *(((7, third.astype(np.uint64)),) if third is not None else ())):
        for byte in range(3):
            fixed[:, offset + byte] = (value >> np.uint64(8 * (2 - byte))) & np.uint64(0xFF)
    tails = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(codes), [None, pa.py_buffer(fixed.tobytes())]).cast(pa.binary())
    salt_ids = (codes >> np.uint64(2 * CHAR_BITS + POSITION_BITS)).astype(np.int64)
    heads = pa.array([s.encode("utf-8") + b"\x1f" for s in salts], pa.binary()).take(
        pa.array(salt_ids))
    return pc.binary_join_element_wise(heads, tails, pa.scalar(b"", pa.binary()))
