"""A bound on concurrent heavy requests (whole-file downloads), answered with 429 beyond it.

A download holds a cursor and a thread for as long as the client reads; without a bound,
a few hundred slow clients hold the server's threads and memory. Beyond
``PSEUDOLINK_API_MAX_DOWNLOADS`` (default 32) concurrent downloads per process the API
answers 429 ``rate_limited`` with ``Retry-After``, before a byte is sent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

from open_api.errors import ApiError

MAX_DOWNLOADS = int(os.environ.get("PSEUDOLINK_API_MAX_DOWNLOADS", "32"))
RETRY_AFTER_SECONDS = 2

_slots = threading.BoundedSemaphore(MAX_DOWNLOADS)


def download_slot() -> Callable[[], None]:
    """Take a download slot or refuse with 429; returns the function that gives it back."""
    if not _slots.acquire(blocking=False):
        raise ApiError("rate_limited", f"more than {MAX_DOWNLOADS} downloads are running; "
                       "try again shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            _slots.release()

    return release


def bounded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` under a download slot, taken now (so a refusal comes before the stream)."""
    release = download_slot()

    def stream() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            release()

    return stream()
