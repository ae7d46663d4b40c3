"""The commonest request, ``GET /api/v1/datasets/{id}/rows?limit=L&offset=O`` and nothing
else, answered without FastAPI's routing and parameter solving.

Under 200 connections those were about a third of the CPU of such a page (bench/api.py).
Only a request that needs none of it takes this path: ``limit`` and ``offset`` as plain
numbers within their bounds, each at most once, no other parameter, no API key (header or
parameter), and no per-address limit configured (then :func:`open_api.guard.native_limits`
has nothing to do). Everything else, and any request this path cannot answer with a page
(a hidden release, a withheld file, an outage), goes to the FastAPI application, which
answers as it always has. The page itself is made by the same functions as
:func:`open_api.native.dataset_rows`; the access log is uvicorn's and sees both.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from open_api.native import MAX_LIMIT, release_page, rows_response

_ROWS_PATH = re.compile(r"/api/v1/datasets/([^/]+)/rows")
_NUMBER = re.compile(r"[0-9]{1,12}")
_API_KEY_HEADER = b"x-api-key"


class FastPages:
    """ASGI middleware: answers plain pages itself and passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _ROWS_PATH.fullmatch(scope["path"])
            if match is not None:
                paging = _plain_paging(scope)
                if paging is not None:
                    response = await _page(scope, match.group(1), *paging)
                    if response is not None:
                        await response(scope, receive, send)
                        return
        await self.app(scope, receive, send)


def _plain_paging(scope: Scope) -> tuple[int, int] | None:
    """``(limit, offset)`` when the request is a plain page, else None."""
    if any(name.lower() == _API_KEY_HEADER for name, _ in scope["headers"]):
        return None
    try:
        query = dict(_unique(parse_qsl(scope["query_string"].decode("ascii"),
                                       keep_blank_values=True, strict_parsing=False)))
    except (UnicodeDecodeError, ValueError):
        return None
    if not set(query) <= {"limit", "offset"}:
        return None
    limit, offset = query.get("limit", "100"), query.get("offset", "0")
    if not (_NUMBER.fullmatch(limit) and _NUMBER.fullmatch(offset)):
        return None
    if not 1 <= int(limit) <= MAX_LIMIT:
        return None
    return int(limit), int(offset)


def _unique(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("a parameter given twice")
    return pairs


async def _page(scope: Scope, release_id: str, limit: int, offset: int):
    request = Request(scope)
    state = request.app.state
    if state.config.anonymous_per_minute is not None:
        return None
    try:
        release, query, page = await release_page(request, release_id, [], None, "asc",
                                                  limit, offset)
    except Exception:  # FastAPI answers it as it would any other request
        return None
    return rows_response(release, query, page, limit, offset)
