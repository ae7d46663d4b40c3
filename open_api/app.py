"""Building the FastAPI application and running it."""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn import Config, Server

from open_api import ckan, dp, health, landing, native, portal
from open_api.access_log import RedactSecrets
from open_api.artifacts import Artifacts
from open_api.config import ApiConfig
from open_api.docs_pages import install_redoc
from open_api.fast_pages import FastPages
from open_api.handlers import install_error_handlers, install_openapi
from open_api.keys import KeyRegistry, resolve_keys
from open_api.limits import Limiter, limiter_for
from open_api.lookups import AsyncSharedLookups, SharedLookups
from open_api.source import ReleaseSource, resolve_source
from open_api.table_cache import TableCache

DOCS_STATIC = "/static/docs"
DESCRIPTION = (
    "Datasets released by a pseudonymised-data combination agency: differentially private "
    "aggregates and synthetic microdata. Errors are JSON `{\"error\": {\"code\", \"message\"}}` "
    "with a stable code."
)


def create_app(
    source: ReleaseSource | str,
    *,
    config: ApiConfig | None = None,
    keys: KeyRegistry | None = None,
    limiter: Limiter | None = None,
    root: str | Path | None = None,
) -> FastAPI:
    """The open-data API over ``source``: a :class:`ReleaseSource` or a catalog database URL.

    API keys are checked by ``keys``, else by the source when it can (the catalog does);
    counters live in ``limiter``, else where ``config.redis_url`` says, else in memory.
    """
    releases = resolve_source(source, root)
    settings = config or ApiConfig()
    # Swagger UI and ReDoc from the assets fastapi-offline ships, never from a CDN: the
    # agencies' networks are separated from the internet (망분리), where /docs was blank.
    app = FastAPIOffline(title="pseudolink open data", version="1", description=DESCRIPTION,
                         static_url=DOCS_STATIC, redoc_url=None, telemetry=_telemetry())
    install_redoc(app, DOCS_STATIC)
    app.state.source = releases
    # Concurrent requests for one release share a catalog query that began after they did.
    app.state.release_lookups = SharedLookups(lambda release_id: releases.get_release(release_id))
    app.state.artifacts = Artifacts()
    # The same for async handlers, with the artifact's facts (a stat) in the same lookup.
    app.state.release_facts = AsyncSharedLookups(
        partial(native.release_and_facts, releases, app.state.artifacts))
    app.state.config = settings
    app.state.keys = resolve_keys(releases, keys)
    app.state.limiter = limiter or limiter_for(settings.redis_url)
    app.state.tables = TableCache(settings.table_cache_bytes)
    app.include_router(health.router)
    app.include_router(landing.router)
    app.include_router(native.router)
    app.include_router(portal.router)
    app.include_router(ckan.router)
    app.include_router(dp.router)
    install_error_handlers(app)
    install_openapi(app)

    app.add_middleware(SameOriginPages)
    app.add_middleware(FastPages)  # plain pages of /rows without FastAPI's routing
    return app


def _telemetry() -> dict[str, bool] | None:
    """FastAPI's OpenTelemetry hooks only where OpenTelemetry is configured (``OTEL_*`` or
    ``FASTAPI_OTEL_AUTO_CONFIGURE`` in the environment); otherwise off. On, FastAPI asks
    OpenTelemetry on every request whether a provider has been set since (environment
    look-ups, about 7 us a request by timeit; py-spy put it higher under load), for nothing.
    """
    if any(name.startswith(("OTEL_", "FASTAPI_OTEL_")) for name in os.environ):
        return None
    return {"tracing": False, "metrics": False, "logs": False}


class SameOriginPages:
    """Adds :data:`PAGE_POLICY` to every HTML answer that does not set its own.

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs each request
    through an extra task and memory stream, a fifth of the event loop's time per data
    request under 200 connections (bench/api.py), for a header only pages need.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_policy)


#: Pages may load only what this server serves: on a separated network an outside request
#: can only fail, and ReDoc's bundled footer still points at its maker's CDN for a logo.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; font-src 'self' data:; "
               "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline' blob:; "
               "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'")


def server(
    source: ReleaseSource | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    config: ApiConfig | None = None,
    access_log: bool = True,
    root: str | Path | None = None,
) -> Server:
    """A uvicorn server for the API whose access log never shows an API key."""
    app = create_app(source, config=config, root=root)
    uvicorn_config = Config(app, host=host, port=port, log_level="info", access_log=access_log)
    # After Config: it (re)configures uvicorn's loggers when it is created.
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
    return Server(uvicorn_config)
