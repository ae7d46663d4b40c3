"""The one user-facing error of the package, and the errors the API answers with.

Every error the API returns has the same JSON shape, ``{"error": {"code", "message"}}``,
with a ``code`` that clients may rely on: messages may be reworded, codes may not.
"""

from __future__ import annotations

from typing import Any


class OpenApiError(Exception):
    """Bad configuration of the open-data API (for example a source it cannot serve from)."""


#: The stable error codes, with the HTTP status each is answered with.
ERROR_STATUS: dict[str, int] = {
    "invalid_parameter": 400,
    "unknown_column": 400,
    "bad_filter_value": 400,
    "unencodable": 400,
    "invalid_key": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "rate_limited": 429,
    "internal": 500,
    "artifact_unavailable": 503,
    "unavailable": 503,
}


class ApiError(Exception):
    """A refusal the API answers with its stable code instead of data."""

    def __init__(
        self,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.status = ERROR_STATUS[code]
        self.message = message
        self.details = details
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict:
    """The JSON body of every error answer.

    >>> error_body("not_found", "no dataset 'x'")
    {'error': {'code': 'not_found', 'message': "no dataset 'x'"}}
    """
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}
