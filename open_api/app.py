"""Building the FastAPI application and running it."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from uvicorn import Config, Server

from open_api import landing, native
from open_api.access_log import RedactSecrets
from open_api.artifacts import Artifacts
from open_api.handlers import install_error_handlers, install_openapi
from open_api.source import ReleaseSource, resolve_source

DESCRIPTION = (
    "Datasets released by a pseudonymised-data combination agency: differentially private "
    "aggregates and synthetic microdata. Errors are JSON `{\"error\": {\"code\", \"message\"}}` "
    "with a stable code."
)


def create_app(source: ReleaseSource | str) -> FastAPI:
    """The open-data API over ``source``: a :class:`ReleaseSource` or a catalog database URL."""
    releases = resolve_source(source)
    app = FastAPI(title="pseudolink open data", version="1", description=DESCRIPTION)
    app.state.source = releases
    app.state.artifacts = Artifacts()
    app.include_router(landing.router)
    app.include_router(native.router)
    install_error_handlers(app)
    install_openapi(app)
    return app


def server(source: ReleaseSource | str, host: str = "127.0.0.1", port: int = 8000) -> Server:
    """A uvicorn server for the API whose access log never shows an API key."""
    config = Config(create_app(source), host=host, port=port, log_level="info")
    # After Config: it (re)configures uvicorn's loggers when it is created.
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
    return Server(config)
