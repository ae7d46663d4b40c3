"""The open-data API: released datasets as JSON and CSV over HTTP (DESIGN 8).

It serves only what the catalog lists as visible releases, reads each release's Parquet
artifact with DuckDB, and refuses to serve an artifact whose sha256 differs from the one the
catalog recorded. FastAPI and uvicorn are imported only when an app or server is built, so
that importing this package for :class:`OpenApiError` (as the CLI does) stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from open_api.config import ApiConfig
from open_api.errors import OpenApiError
from open_api.keys import KeyCheck, KeyRegistry
from open_api.licence import DEFAULT_LICENCE
from open_api.source import Release, ReleaseSource

if TYPE_CHECKING:
    from fastapi import FastAPI
    from uvicorn import Server


def create_app(
    source: ReleaseSource | str,
    *,
    config: ApiConfig | None = None,
    keys: KeyRegistry | None = None,
    root: str | Path | None = None,
) -> FastAPI:
    """The API over ``source``: a :class:`ReleaseSource` or a catalog database URL.

    API keys are checked by ``keys``, else by the source when it can (the catalog does);
    ``root`` is the workspace that the catalog's relative artifact paths belong to.
    """
    from open_api.app import create_app as build

    return build(source, config=config, keys=keys, root=root)


def server(
    source: ReleaseSource | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    config: ApiConfig | None = None,
    access_log: bool = True,
    root: str | Path | None = None,
) -> Server:
    """A uvicorn server for the API (``.run()`` it), whose access log hides API keys;
    ``root`` is the workspace whose relative artifact paths the catalog holds."""
    from open_api.app import server as build

    return build(source, host=host, port=port, config=config, access_log=access_log,
                 root=root)


def dp_answer(source: ReleaseSource, dataset: str, query: Any, consumer: str, *, actor: str,
              cache: Any = None) -> dict[str, Any]:
    """Answer one DP query as ``POST /api/v1/dp/query`` does, charging ``consumer``'s budget
    first; raises :class:`OpenApiError` (with a ``code``) when refused."""
    from anonymize.dp import BoundedDataCache
    from open_api.dp import answer

    return answer(source, cache or BoundedDataCache(), dataset, query, consumer, actor=actor)


def serve(
    url: str, host: str = "127.0.0.1", port: int = 8000, *, config: ApiConfig | None = None,
    root: str | Path | None = None,
) -> None:
    """Serve the API over the catalog at ``url`` (workspace ``root``) until interrupted."""
    server(url, host=host, port=port, config=config, root=root).run()


__all__ = [
    "DEFAULT_LICENCE",
    "ApiConfig",
    "KeyCheck",
    "KeyRegistry",
    "OpenApiError",
    "Release",
    "ReleaseSource",
    "create_app",
    "dp_answer",
    "serve",
    "server",
]
