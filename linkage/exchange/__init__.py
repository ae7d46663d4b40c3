"""The parties' file exchange: an HTTP service holding sealed envelopes it cannot open,
and the client each party uses to push and pull them (DESIGN 10, issue 17).

>>> from linkage.exchange import ExchangeClient, create_app, ROUTES
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkage.exchange.checks import decode_header, encode_header
from linkage.exchange.client import ExchangeClient, ExchangeError, Pushed
from linkage.exchange.refusals import Audit
from linkage.exchange.routes import ROUTES, Route, file_name, route_error
from linkage.exchange.store import LocalStorage, Staging, Storage
from linkage.exchange.worker import work

DEFAULT_PORT = 8700
#: An upload untouched this long is abandoned: removed when the exchange starts.
STAGING_DAYS = 7
#: The server's side (FastAPI, SQLAlchemy) loads only when asked for: a holder's push or
#: a worker needs the client alone, and each CLI process would pay for the rest.
_LAZY = {"DEFAULT_MAX_FILE": "linkage.exchange.server", "create_app": "linkage.exchange.server",
         "ExchangeState": "linkage.exchange.state"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_exchange(database_url: str, files_dir: str | Path, audit: Audit, *,
                  max_file_bytes: int | None = None, stalled_after: float | None = None):
    """The app over a database and a files directory (``objects/`` and ``staging/``).

    Staging and storage share one file system, so publishing is a rename. On PostgreSQL
    the app also runs the job queue (procrastinate needs PostgreSQL); on SQLite it only
    moves files.
    """
    from linkage.exchange.server import DEFAULT_MAX_FILE, create_app
    from linkage.exchange.state import ExchangeState

    files_dir = Path(files_dir)
    state = ExchangeState(database_url)
    jobs = None
    if database_url.startswith("postgresql"):
        from linkage.exchange.jobs import STALLED_AFTER, JobQueue

        jobs = JobQueue(database_url, state, stalled_after or STALLED_AFTER)
    staging = Staging(files_dir / "staging")
    staging.sweep(STAGING_DAYS * 86400)
    return create_app(state, LocalStorage(files_dir / "objects"), staging, audit,
                      max_file_bytes=max_file_bytes or DEFAULT_MAX_FILE, jobs=jobs)


__all__ = [
    "DEFAULT_MAX_FILE",
    "DEFAULT_PORT",
    "ROUTES",
    "Audit",
    "ExchangeClient",
    "ExchangeError",
    "ExchangeState",
    "LocalStorage",
    "Pushed",
    "Route",
    "Staging",
    "Storage",
    "create_app",
    "decode_header",
    "encode_header",
    "file_name",
    "open_exchange",
    "route_error",
    "work",
]
