"""Random record serials: the only thing that ties a holder's two halves together.

Serials are 128 random bits, so they say nothing about the record, its order or its holder;
only the holder's crosswalk maps them back.
"""

from __future__ import annotations

import binascii
import os

import numpy as np
import pyarrow as pa

SERIAL_BYTES = 16


def random_hex(count: int, nbytes: int = SERIAL_BYTES) -> pa.Array:
    """``count`` distinct random hex strings of ``nbytes`` bytes, from the OS's CSPRNG.

    >>> ids = random_hex(3)
    >>> len(ids), len(ids[0].as_py()), len(set(ids.to_pylist()))
    (3, 32, 3)
    """
    width = 2 * nbytes
    hexed = binascii.hexlify(os.urandom(nbytes * count))
    values = np.frombuffer(hexed, dtype=f"S{width}").astype(f"U{width}")
    array = pa.array(values, pa.string())
    # A collision in 128 bits is practically impossible, but a duplicate would merge records.
    if len(np.unique(values)) != count:
        return random_hex(count, nbytes)
    return array
