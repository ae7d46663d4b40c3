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

import asyncio
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from anyio import to_thread


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


class AsyncSharedLookups:
    """The same sharing for ``async`` handlers: ``await get(key)`` takes the answer of a
    ``fetch(key)`` that starts after the call does, run on a worker thread.

    The requests that share a lookup wait on the event loop, not each on a thread of its
    own: under 200 connections a page's trip to a worker thread and back (queue, wake-up,
    the loop's self-pipe) cost more CPU than the page itself, and a shared lookup now costs
    one trip for all the requests that share it. The fetch runs as a task of its own, so a
    client that hangs up does not cancel the answer the others wait for. State is kept per
    event loop (a test client may start several).
    """

    def __init__(self, fetch: Callable[[Any], Any]) -> None:
        self._fetch = fetch
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop,
            tuple[dict[Hashable, asyncio.Future], dict[Hashable, asyncio.Future]],
        ] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task] = set()

    async def get(self, key: Hashable) -> Any:
        loop = asyncio.get_running_loop()
        running, waiting = self._loops.setdefault(loop, ({}, {}))
        # No await between reading and updating the maps: one loop, so no lock is needed.
        if key in waiting:
            lookup = waiting[key]
        else:
            lookup = loop.create_future()
            before = running.get(key)
            if before is None:
                running[key] = lookup
            else:
                waiting[key] = lookup
            task = loop.create_task(self._lead(key, lookup, before, running, waiting))
            self._tasks.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(lookup)

    async def _lead(self, key: Hashable, lookup: asyncio.Future, before: asyncio.Future | None,
                    running: dict, waiting: dict) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])
                running[key] = lookup
                del waiting[key]
            result = await to_thread.run_sync(self._fetch, key)
        except Exception as exc:  # every waiter gets the same failure (an outage)
            lookup.set_exception(exc)
            lookup.exception()  # retrieved: no "never retrieved" warning if all hung up
        else:
            lookup.set_result(result)
        finally:
            if not lookup.done():  # this task was cancelled: the loop is closing
                lookup.cancel()
            if running.get(key) is lookup:
                del running[key]
            if waiting.get(key) is lookup:
                del waiting[key]
