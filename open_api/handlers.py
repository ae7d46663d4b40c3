"""Errors as JSON with a stable code, everywhere, and an OpenAPI document that says so.

FastAPI answers validation errors with 422 and its own shape; this API answers every bad
parameter with 400 and ``{"error": {"code": "invalid_parameter", ...}}``, so the handlers and
the generated document are adjusted together.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from open_api.access_log import redact_target
from open_api.errors import ApiError, error_body
from open_api.outages import is_outage, outage_error

log = logging.getLogger(__name__)


def redacted_target(request: Request) -> str:
    """The request's method, path and query, with credential values replaced by ``***``."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{request.method} {redact_target(target)}"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "parameter": ".".join(str(part) for part in error.get("loc", ())[1:]) or None,
            "message": error.get("msg", ""),
        }
        for error in exc.errors()
    ]
    names = ", ".join(d["parameter"] for d in details if d["parameter"]) or "request"
    return JSONResponse(
        error_body("invalid_parameter", f"invalid value for {names}", details), status_code=400
    )


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    fallback = "internal" if exc.status_code >= 500 else "invalid_parameter"
    code = _HTTP_CODES.get(exc.status_code, fallback)
    message = "no such resource" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(
        error_body(code, message), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_outage(exc):
        error = outage_error(exc, redacted_target(request))
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    # The traceback stays in the server's log; the client learns only that it was not its fault.
    log.error("unexpected error on %s", redacted_target(request), exc_info=exc)
    return JSONResponse(
        error_body("internal", "internal error; it has been logged"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's 422 entries with the 400 this API really answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    # Only query parameters can be invalid: a path's text always matches.
                    queried = any(p.get("in") == "query" for p in operation.get("parameters", []))
                    if queried and "400" not in responses:
                        responses["400"] = {
                            "description": "Invalid parameter",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                            }},
                        }
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
