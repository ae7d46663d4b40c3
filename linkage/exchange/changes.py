"""Wake a party's waiting worker the moment something arrives for it.

A worker's claim may wait at the exchange (a long poll) instead of asking again every few
seconds: a poll interval adds straight to the end-to-end time of a project, since the
next stage starts only when its worker notices its inputs. Each party has a counter,
raised when a file addressed to it is published or a job of its is deferred; a claim
waits until the counter differs from the one its worker last saw (so nothing that lands
between two claims is missed) or until its time is up.

The counters live in the exchange process. The exchange runs as one process (uvicorn,
one worker); behind several, a claim answered by another process than the upload's
still returns at the end of its wait, only later.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

#: The longest a claim is held open, whatever the worker asks: well inside proxies' and
#: the client's read timeouts.
MAX_WAIT = 30.0


class Changes:
    """Per-party change counters that coroutines can wait on."""

    def __init__(self) -> None:
        self._counts: defaultdict[str, int] = defaultdict(int)
        self._condition: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        # Made on first use, inside the server's event loop.
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    def seen(self, party: str) -> int:
        return self._counts[party]

    async def mark(self, parties: Iterable[str]) -> None:
        """Something arrived for each of ``parties``: wake their waiting claims."""
        cond = self._cond()
        async with cond:
            for party in set(parties):
                self._counts[party] += 1
            cond.notify_all()

    async def wait(self, party: str, since: int, timeout: float) -> bool:
        """Wait until ``party``'s counter differs from ``since``; False if time ran out."""
        cond = self._cond()
        async with cond:
            try:
                await asyncio.wait_for(cond.wait_for(lambda: self._counts[party] != since),
                                       min(timeout, MAX_WAIT))
            except TimeoutError:
                return False
        return True
