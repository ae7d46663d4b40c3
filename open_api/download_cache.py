"""Recently made downloads kept as bytes, so the next client of the same file is sent them.

A download of a released file is the same bytes for everyone until the file changes: the
query, its parameters, the encoding and the file's version (path, size, mtime, checksum)
decide them. Making a CSV is Python work per cell; under 200 concurrent clients of a
260 KB file the server spent its time making the same bytes again (bench/api.py). Files up
to ``PSEUDOLINK_API_DOWNLOAD_CACHE_FILE_MB`` (4) are kept, least recently used out first,
within ``PSEUDOLINK_API_DOWNLOAD_CACHE_MB`` (64) per process; 0 turns the cache off.

Only bytes are kept, never a decision: the caller checks that the release is still
published before it asks here, so a revoked release is refused at once as before.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterator

MIB = 1 << 20
MAX_BYTES = int(float(os.environ.get("PSEUDOLINK_API_DOWNLOAD_CACHE_MB", "64")) * MIB)
MAX_FILE_BYTES = int(float(os.environ.get("PSEUDOLINK_API_DOWNLOAD_CACHE_FILE_MB", "4")) * MIB)


class DownloadCache:
    """Whole downloads by key, within a byte budget; safe across threads."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_file_bytes: int = MAX_FILE_BYTES
                 ) -> None:
        self.max_bytes = max_bytes
        self.max_file_bytes = min(max_file_bytes, max_bytes)
        self._lock = threading.Lock()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_file_bytes:
            return
        with self._lock:
            if key in self._bodies:
                return
            self._bodies[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._bytes -= len(dropped)

    def keeping(self, key: Hashable, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` passed through; kept under ``key`` if they end whole and small enough."""
        kept: list[bytes] | None = [] if self.max_file_bytes > 0 else None
        size = 0
        for chunk in chunks:
            if kept is not None:
                size += len(chunk)
                if size > self.max_file_bytes:
                    kept = None
                else:
                    kept.append(chunk)
            yield chunk
        if kept is not None:
            self.put(key, b"".join(kept))


class Body:
    """A kept download as a response body: sent from memory, no thread and no slot."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


#: The process's cache: one per server process, like its DuckDB database.
downloads = DownloadCache()
