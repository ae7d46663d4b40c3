"""Link ids: each cluster's number enciphered under a key drawn for one link map.

A block cipher is a keyed permutation of 128-bit blocks: distinct cluster numbers give
distinct ids, with no draw to check for collisions and no shuffle to hand the clusters
their ids; without the key an id is as random as a drawn one (the blocks are distinct,
so enciphering them one by one, as ECB does, shows no pattern). The key comes from the
OS's CSPRNG and is never kept. Every engine that writes a link map names its clusters
this way, batch by batch, wherever the batch is.
"""

from __future__ import annotations

import binascii
import os

import numpy as np
import pyarrow as pa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: The link map's columns, as the exact matchers' members become them.
LINKMAP_SCHEMA = pa.schema([("link_id", pa.string()), ("holder", pa.string()),
                            ("serial", pa.string())])


class LinkIds:
    """The link ids of one link map: :meth:`of` cluster numbers, in any batches.

    Picklable (Spark ships it to its executors with the key); each call enciphers
    afresh, so batches need not come in order.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key if key is not None else os.urandom(16)

    def of(self, clusters: np.ndarray) -> pa.StringArray:
        """Each cluster number's id: 32 lower-case hex digits."""
        encrypt = Cipher(algorithms.AES(self.key), modes.ECB()).encryptor()
        return hex32(encrypt.update(_blocks(clusters)) + encrypt.finalize())


def _blocks(numbers: np.ndarray) -> bytes:
    """Each number as one 16-byte big-endian block."""
    blocks = np.zeros((len(numbers), 2), ">u8")
    blocks[:, 1] = numbers
    return blocks.tobytes()


def hex32(octets: bytes) -> pa.StringArray:
    """Each 16 bytes of ``octets`` as 32 lower-case hex digits (no per-value objects);
    32-bit offsets, so at most 67 million values a call: a batch, never a whole file.

    >>> hex32(bytes(range(16))).to_pylist()
    ['000102030405060708090a0b0c0d0e0f']
    """
    n = len(octets) // 16
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets),
                                       pa.py_buffer(binascii.hexlify(octets)))


__all__ = ["LINKMAP_SCHEMA", "LinkIds", "hex32"]
