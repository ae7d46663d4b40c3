"""Per-key and per-address rate limits of the native face, and its optional API key.

The native face needs no key. A request may carry one (``X-API-Key`` header or ``api_key``
parameter) to be counted under its key's limit instead of its address's; a key that is sent
must be valid, so that a mistyped key is reported rather than silently ignored.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Header, Query, Request
from starlette.concurrency import run_in_threadpool

from open_api.config import ApiConfig
from open_api.errors import ApiError
from open_api.keys import OPEN_DATA_SCOPE, KeyRegistry, LockedOut, check_secret
from open_api.limits import Limiter, LimiterUnavailable, minute

log = logging.getLogger(__name__)

_KEY_PROBLEMS = {
    "unknown": "the API key is not registered",
    "expired": "the API key has expired",
    "revoked": "the API key has been revoked",
}


def count(limiter: Limiter, bucket: str, limit: int) -> None:
    """Count one request in this minute's window; a 429 when the limit is passed."""
    try:
        decision = limiter.hit(bucket, minute(), limit)
    except LimiterUnavailable as exc:
        log.error("rate limiter unavailable: %s", exc)
        raise ApiError("unavailable", "the service is temporarily unavailable") from None
    if not decision.allowed:
        raise ApiError(
            "rate_limited",
            f"more than {limit} requests this minute; retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )


def _check_key(keys: KeyRegistry, secret: str, address: str | None = None) -> str:
    verdict = check_secret(keys, secret, address)
    if isinstance(verdict, LockedOut):
        raise ApiError("rate_limited", verdict.message)
    if verdict.status != "valid":
        raise ApiError("invalid_key", _KEY_PROBLEMS.get(verdict.status, "invalid API key"))
    if OPEN_DATA_SCOPE not in verdict.scopes:
        raise ApiError("invalid_key", f"the API key lacks the {OPEN_DATA_SCOPE!r} scope")
    return str(verdict.key_id)


async def native_limits(
    request: Request,
    api_key: Annotated[str | None, Query(
        description="Optional API key: counted under the key's rate limit.")] = None,
    x_api_key: Annotated[str | None, Header(
        alias="X-API-Key", description="Optional API key, as a header.")] = None,
) -> None:
    """FastAPI dependency of every native endpoint."""
    config: ApiConfig = request.app.state.config
    limiter: Limiter = request.app.state.limiter
    secret = x_api_key if x_api_key is not None else api_key
    if secret is not None:
        address = request.client.host if request.client else None
        key_id = await run_in_threadpool(_check_key, request.app.state.keys, secret, address)
        if config.key_per_minute is not None:
            await run_in_threadpool(count, limiter, f"native:key:{key_id}", config.key_per_minute)
    elif config.anonymous_per_minute is not None:
        address = request.client.host if request.client else "unknown"
        await run_in_threadpool(
            count, limiter, f"native:addr:{address}", config.anonymous_per_minute
        )
