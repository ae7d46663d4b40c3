"""/redoc served whole from this server: ReDoc's bundle, with its one outside reference local.

fastapi-offline ships Swagger UI and ReDoc, but ReDoc's footer still loads its maker's logo
from ``cdn.redoc.ly``; on a separated network that request can only fail. The bundle is
served here with that one URL pointed at the local favicon, read once and kept in memory.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

_STATIC = Path(fastapi_offline.__file__).parent / "static"
_OUTSIDE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_JS = "/static/redoc.standalone.js"


@cache
def _redoc_bundle(local_logo: str) -> bytes:
    return (_STATIC / "redoc.standalone.js").read_text(encoding="utf-8").replace(
        _OUTSIDE_LOGO, local_logo).encode("utf-8")


def install_redoc(app: FastAPI, static_url: str) -> None:
    """Serve ``/redoc`` and its bundle (call with the app built with ``redoc_url=None``)."""

    @app.get(REDOC_JS, include_in_schema=False)
    async def redoc_bundle(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        return Response(_redoc_bundle(f"{root}{static_url}/favicon.png"),
                        media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{app.openapi_url}",
                              title=f"{app.title} - ReDoc", redoc_js_url=f"{root}{REDOC_JS}",
                              redoc_favicon_url=f"{root}{static_url}/favicon.png",
                              with_google_fonts=False)
