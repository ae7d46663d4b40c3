"""Request targets as they may appear in logs: credential values replaced by ``***``.

API keys travel in query strings (the public-data portal's ``serviceKey`` convention), and
uvicorn's access log writes each request's full target; both paths go through here so that
no key reaches a log file.
"""

from __future__ import annotations

import logging
import re

#: Query parameters whose values are credentials (compared case-insensitively).
SECRET_PARAMETERS = frozenset({"servicekey", "api_key", "apikey", "key", "token", "access_token"})

_SECRET = re.compile(
    r"([?&](?:" + "|".join(sorted(SECRET_PARAMETERS, key=len, reverse=True)) + r")=)[^&#]*",
    re.IGNORECASE,
)


def redact_target(target: str) -> str:
    """A path with query string, with the values of credential parameters hidden.

    >>> redact_target("/api/v1/datasets?serviceKey=abc%2Bdef&q=x&monkey=1")
    '/api/v1/datasets?serviceKey=***&q=x&monkey=1'
    """
    return _SECRET.sub(r"\1***", target)


class RedactSecrets(logging.Filter):
    """Rewrites uvicorn access-log records so their request target carries no credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access records are (client, method, target, http_version, status).
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, target, version, status = record.args
            record.args = (client, method, redact_target(str(target)), version, status)
        return True
