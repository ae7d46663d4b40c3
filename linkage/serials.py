"""Random record serials: the only thing that ties a holder's two halves together.

Serials are 128 random bits, so they say nothing about the record, its order or its holder;
only the holder's crosswalk maps them back.
"""

from __future__ import annotations

import binascii
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SERIAL_BYTES = 16


def random_hex(count: int, nbytes: int = SERIAL_BYTES) -> pa.Array:
    """``count`` distinct random hex strings of ``nbytes`` bytes, from the OS's CSPRNG.

    >>> ids = random_hex(3)
    >>> len(ids), len(ids[0].as_py()), len(set(ids.to_pylist()))
    (3, 32, 3)
    """
    width = 2 * nbytes
    # The hex text is the string array's data buffer as is: no per-value Python objects.
    raw = os.urandom(nbytes * count)
    data = pa.py_buffer(binascii.hexlify(raw))
    offsets = pa.py_buffer(np.arange(0, (count + 1) * width, width, dtype=np.int64))
    array = pa.LargeStringArray.from_buffers(count, offsets, data).cast(pa.string())
    # A collision in 128 bits is practically impossible, but a duplicate would merge records.
    # Sorting the first 64 bits is cheap; only if two agree there are whole serials compared.
    if count > 1 and nbytes % 8 == 0:
        head = np.sort(np.frombuffer(raw, dtype="<u8")[:: nbytes // 8])
        suspect = bool((head[1:] == head[:-1]).any())
    else:
        suspect = count > 1
    if suspect and pc.count_distinct(array).as_py() != count:
        return random_hex(count, nbytes)
    return array
