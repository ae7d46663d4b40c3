"""Concurrent lookups of the same release share one catalog query, never an old answer.

Under 200 connections every page asked the catalog for its release (three SELECTs through
the ORM): half of the server's CPU per page, for the same answer many times over. Caching
the answer would delay a revocation, which must take effect on the next request. Instead,
a request waits for the next lookup *to start* after it arrived and takes its answer:
while one lookup of a release runs, the requests that arrive meanwhile form the next one,
and one of them runs it for all. So no request is answered from a query that began before
it did (a revocation committed before a request arrived is always seen), and a release
under load is looked up about once per query's duration instead of once per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class _Lookup:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class SharedLookups:
    """``get(key)`` calls ``fetch(key)`` in a lookup that starts after the call does."""

    def __init__(self, fetch: Callable[[Any], Any]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._running: dict[Hashable, _Lookup] = {}
        self._next: dict[Hashable, _Lookup] = {}

    def get(self, key: Hashable) -> Any:
        with self._lock:
            running = self._running.get(key)
            if running is None:
                lookup, leads, wait_for = _Lookup(), True, None
                self._running[key] = lookup
            elif key in self._next:
                lookup, leads, wait_for = self._next[key], False, None
            else:
                lookup, leads, wait_for = _Lookup(), True, running
                self._next[key] = lookup
        if not leads:
            lookup.done.wait()
        else:
            if wait_for is not None:
                wait_for.done.wait()
                with self._lock:
                    self._running[key] = lookup
                    del self._next[key]
            try:
                lookup.result = self._fetch(key)
            except BaseException as exc:  # every waiter gets the same failure (an outage)
                lookup.error = exc
            finally:
                with self._lock:
                    if self._running.get(key) is lookup:
                        del self._running[key]
                lookup.done.set()
        if lookup.error is not None:
            raise lookup.error
        return lookup.result
