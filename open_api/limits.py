"""Fixed-window request counters: in memory for one process, in Redis for several.

A counter is named by a bucket (``"portal:<key_id>"``, never the secret itself) and a window
(a KST day, or a minute). :meth:`Limiter.hit` counts one request and says whether it stays
within the limit; a refused request still counts, as the public-data portal counts it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from open_api.errors import OpenApiError

KST = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Window:
    """One counting period: a name unique to it and the seconds until it ends."""

    name: str
    seconds_left: int


def kst_day(now: float | None = None) -> Window:
    """Today in Korea, which is when the portal's daily quotas reset.

    >>> kst_day(0).name  # 1970-01-01 00:00 UTC is 09:00 in Seoul
    'day:1970-01-01'
    >>> kst_day(0).seconds_left
    54000
    """
    moment = datetime.fromtimestamp(time.time() if now is None else now, KST)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = int((midnight - moment).total_seconds())
    return Window(f"day:{moment.date().isoformat()}", max(1, left))


def minute(now: float | None = None) -> Window:
    """The current minute since the epoch.

    >>> minute(125)
    Window(name='min:2', seconds_left=55)
    """
    moment = time.time() if now is None else now
    return Window(f"min:{int(moment // 60)}", max(1, 60 - int(moment % 60)))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int


class LimiterUnavailable(Exception):
    """The counter store cannot be reached; requests are refused rather than let through."""


class Limiter(Protocol):
    def hit(self, bucket: str, window: Window, limit: int) -> Decision: ...


class MemoryLimiter:
    """Counters in this process, safe across threads; old windows are dropped as time moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._expiry: dict[tuple[str, str], float] = {}

    def hit(self, bucket: str, window: Window, limit: int) -> Decision:
        now = time.monotonic()
        key = (bucket, window.name)
        with self._lock:
            if len(self._expiry) > 10_000:
                for stale in [k for k, t in self._expiry.items() if t < now]:
                    self._counts.pop(stale, None)
                    self._expiry.pop(stale, None)
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            self._expiry.setdefault(key, now + window.seconds_left)
        return Decision(count <= limit, count, limit, window.seconds_left)


class RedisLimiter:
    """Counters in Redis (INCR and EXPIRE in one transaction), shared by every server process."""

    PREFIX = "pseudolink:open_api:"

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise OpenApiError("a Redis URL was given but redis-py is not installed") from exc
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._errors = (redis.RedisError, OSError)

    def hit(self, bucket: str, window: Window, limit: int) -> Decision:
        name = f"{self.PREFIX}{bucket}:{window.name}"
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                # Only the first request of the window sets the expiry; a second EXPIRE would
                # keep pushing it back. One spare minute outlives clock skew between servers.
                pipe.expire(name, window.seconds_left + 60, nx=True)
                count = int(pipe.execute()[0])
        except self._errors as exc:
            raise LimiterUnavailable(str(exc)) from None
        return Decision(count <= limit, count, limit, window.seconds_left)


def limiter_for(redis_url: str | None) -> Limiter:
    """The limiter a configuration asks for."""
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
