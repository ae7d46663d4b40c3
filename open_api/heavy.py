"""A bound on concurrent heavy requests (whole-file downloads), answered with 429 beyond it.

A download holds a cursor and a thread for as long as the client reads; without a bound,
a few hundred slow clients hold the server's threads and memory. Beyond
``PSEUDOLINK_API_MAX_DOWNLOADS`` (default 32) concurrent downloads per process the API
answers 429 ``rate_limited`` with ``Retry-After``, before a byte is sent.

A slot must come back however the download ends. A client that disconnects before the
body is read leaves a stream that was never started, and a generator's ``finally`` does
not run then: the first version lost a slot each time, and after one burst of 200 clients
every download was refused with 429 until the server restarted. The stream here gives its
slot back when it is exhausted, closed, or dropped unstarted.

Downloads are produced on threads of their own (``DOWNLOAD_THREADS``), not on the pool that
runs request handlers: under 200 connections that pool is queued with new requests, and a
running download waited behind them for each chunk, so few ever finished.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from open_api.errors import ApiError

MAX_DOWNLOADS = int(os.environ.get("PSEUDOLINK_API_MAX_DOWNLOADS", "32"))
#: Producing CSV is CPU work under the GIL: more threads than cores only queue.
DOWNLOAD_THREADS = max(2, min(8, os.cpu_count() or 2))
RETRY_AFTER_SECONDS = 2

_slots = threading.BoundedSemaphore(MAX_DOWNLOADS)
_executor = ThreadPoolExecutor(DOWNLOAD_THREADS, thread_name_prefix="pseudolink-download")


def download_slot() -> Callable[[], None]:
    """Take a download slot or refuse with 429; returns the function that gives it back
    (calling it again does nothing)."""
    if not _slots.acquire(blocking=False):
        raise ApiError("rate_limited", f"more than {MAX_DOWNLOADS} downloads are running; "
                       "try again shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    released = threading.Event()
    lock = threading.Lock()

    def release() -> None:
        with lock:
            if released.is_set():
                return
            released.set()
        _slots.release()

    return release


class BoundedStream:
    """Chunks of a download under a slot taken at creation (so a refusal comes before the
    stream). Iterated asynchronously, each chunk is produced on the download threads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        release = download_slot()
        self._chunks = chunks
        self._release = weakref.finalize(self, release)  # dropped unstarted: slot back

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            while (chunk := await loop.run_in_executor(_executor, next, self._chunks, None)
                   ) is not None:
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """End the download: close the producer (its cursor) and give the slot back."""
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        except ValueError:  # a chunk still being produced on a download thread: the
            pass            # generator is closed when it is dropped
        finally:
            self._release()


def bounded(chunks: Iterator[bytes]) -> BoundedStream:
    """``chunks`` under a download slot, taken now (429 beyond the bound)."""
    return BoundedStream(chunks)
