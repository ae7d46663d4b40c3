"""A backing service that is down is the server's fault for a while, not the client's.

The catalog database (or Redis, for shared rate limits) refusing connections is answered
with 503 ``unavailable`` and ``Retry-After``, so clients back off and try again instead of
reporting a bug, and it is logged as one line per failure: a stopped database must not
turn every request into a 29 KB traceback in the log. A full traceback is still written
at most once a minute, for whoever has to find out why.
"""

from __future__ import annotations

import logging
import threading
import time

from open_api.errors import ApiError

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5
_TRACEBACK_EVERY = 60.0
_last_traceback = 0.0
_lock = threading.Lock()


def _outage_types() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = []
    try:
        from sqlalchemy import exc as sa_exc

        kinds += [sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                  sa_exc.TimeoutError]
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        pass
    try:
        import redis

        kinds += [redis.ConnectionError, redis.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(kinds)


_OUTAGES = _outage_types()


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says a backing service cannot be reached (not a bug of ours)."""
    return isinstance(exc, _OUTAGES)


def outage_error(exc: BaseException, target: str) -> ApiError:
    """The 503 to answer with, after logging the outage as one line."""
    global _last_traceback
    now = time.monotonic()
    with _lock:
        with_traceback = now - _last_traceback >= _TRACEBACK_EVERY
        if with_traceback:
            _last_traceback = now
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    if with_traceback:
        log.warning("backing service unavailable on %s: %s (traceback at most once a "
                    "minute follows)", target, reason)
        log.debug("outage traceback", exc_info=exc)
    else:
        log.warning("backing service unavailable on %s: %s", target, reason)
    return ApiError("unavailable", "the service is temporarily unavailable; try again shortly",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
