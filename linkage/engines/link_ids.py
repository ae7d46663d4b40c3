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
from collections.abc import Iterable
from pathlib import Path

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


def write_link_map(path: Path, members: Iterable[tuple[np.ndarray, pa.Array, pa.Array]]
                   ) -> str:
    """The link map at ``path`` (:data:`LINKMAP_SCHEMA`) from batches of members in the
    order they come (cluster numbers, holder names, serials), each cluster named by one
    :class:`LinkIds`; written behind the caller and hashed as written: returns the file's
    SHA-256, so sealing it needs no second read. Nothing is published on an error."""
    from linkage.envelope import COMPRESSION
    from linkage.files import atomic_path
    from linkage.sinks import HashedParquetSink

    ids = LinkIds()
    # Link ids and serials are random: only the holder's name gains by a dictionary.
    with atomic_path(path) as tmp, HashedParquetSink(
            tmp, LINKMAP_SCHEMA, compression=COMPRESSION["linkmap"],
            use_dictionary=["holder"]) as sink:
        for clusters, holders, serials in members:
            sink.write(pa.record_batch([ids.of(clusters), holders, serials],
                                       schema=LINKMAP_SCHEMA))
    return sink.sha256


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


__all__ = ["LINKMAP_SCHEMA", "LinkIds", "hex32", "write_link_map"]
