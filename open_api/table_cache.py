"""Releases held in memory as Arrow tables, so a page in file order is a slice, not a scan.

Paging a Parquet file with LIMIT/OFFSET makes DuckDB read every row up to the offset on each
request. A release of moderate size is instead read once per version of its file and kept,
least recently used first out, within a byte budget; larger ones are always read from disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pyarrow as pa
import pyarrow.parquet as pq

from open_api.artifacts import ArtifactFacts


class TableCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._tables: OrderedDict[str, pa.Table] = OrderedDict()
        self._too_big: set[str] = set()
        self._bytes = 0

    def cached(self, facts: ArtifactFacts) -> pa.Table | None:
        """The release's rows if they are in memory now; never reads the file."""
        with self._lock:
            table = self._tables.get(facts.version_key)
            if table is not None:
                self._tables.move_to_end(facts.version_key)
            return table

    def table(self, facts: ArtifactFacts) -> pa.Table | None:
        """The release's rows in memory, or None when it is larger than the budget."""
        key = facts.version_key
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
            if key in self._too_big or self.max_bytes <= 0:
                return None
        table = pq.read_table(facts.path)
        with self._lock:
            if table.nbytes > self.max_bytes:
                self._too_big.add(key)
                return None
            if key not in self._tables:
                self._tables[key] = table
                self._bytes += table.nbytes
            while self._bytes > self.max_bytes:
                _, dropped = self._tables.popitem(last=False)
                self._bytes -= dropped.nbytes
            return table
