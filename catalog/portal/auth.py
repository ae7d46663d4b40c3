"""Who is at the portal: the catalog's session in an HttpOnly cookie, and a CSRF token.

The cookie holds the session token ``Catalog.login`` returned (the catalog keeps only
its hash, and expires it as it does every session). It is HttpOnly (no script reads it)
and SameSite=Strict (no other site's page sends it). Every form that changes something
carries a CSRF token derived from the session token, so a page that cannot read the
cookie cannot forge the form either.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

COOKIE = "pseudolink_portal"
LANG_COOKIE = "pseudolink_lang"
#: Before a session exists, the login form's token is a random value in its own cookie
#: (double submit): another site can neither read the cookie nor guess the value.
LOGIN_COOKIE = "pseudolink_login"


def csrf_token(session_token: str) -> str:
    """The form token of a session: an HMAC of the session token, useless without it."""
    return hmac.new(b"pseudolink portal csrf", session_token.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), submitted or "")


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def cookie_options(secure: bool) -> dict[str, object]:
    """Set-Cookie attributes of the session cookie (Secure behind TLS)."""
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/"}
