"""Strings built from matrices of Unicode code points, so that millions of them cost one copy.

A per-record Python f-string is far too slow at ten million people. Every fixed-layout field
(names, RRNs, phone numbers, dates) is instead a ``(rows, width)`` matrix of code points, 0
meaning "no character"; numpy reads such a matrix as fixed-width Unicode strings for free.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

ZERO = ord("0")


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """The decimal digits of non-negative integers as code points, zero-padded to ``width``.

    >>> to_strings(digits(np.array([7, 1956]), 4)).to_pylist()
    ['0007', '1956']
    """
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers % 10 + ZERO).astype(np.uint32)


def literal(text: str, rows: int) -> np.ndarray:
    """A constant piece of text repeated on every row."""
    return np.tile(np.array([ord(ch) for ch in text], dtype=np.uint32), (rows, 1))


def to_strings(codes: np.ndarray) -> pa.Array:
    """One Arrow string per row of code points; zeros anywhere in a row are dropped.

    The UTF-8 bytes are assembled in numpy and handed to Arrow as buffers: converting a numpy
    Unicode array through Python objects costs ten times as much.

    >>> to_strings(np.array([[0xAE40, 0, 0xCCA0], [ord("a"), 0xE9, 0]])).to_pylist()
    ['김철', 'aé']
    """
    c = np.asarray(codes, dtype=np.uint32)
    size = np.where(c == 0, 0, np.where(c < 0x80, 1, np.where(c < 0x800, 2, 3))).astype(np.int8)
    out = np.empty((*c.shape, 3), dtype=np.uint8)
    out[..., 0] = np.where(size == 1, c, np.where(size == 2, 0xC0 | (c >> 6), 0xE0 | (c >> 12)))
    out[..., 1] = np.where(size == 2, 0x80 | (c & 0x3F), 0x80 | ((c >> 6) & 0x3F))
    out[..., 2] = 0x80 | (c & 0x3F)
    data = out[np.arange(3, dtype=np.int8) < size[..., None]]
    offsets = np.zeros(len(c) + 1, dtype=np.int32)
    np.cumsum(size.sum(axis=1, dtype=np.int32), out=offsets[1:])
    return pa.StringArray.from_buffers(len(c), pa.py_buffer(offsets), pa.py_buffer(data))
