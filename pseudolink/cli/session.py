"""Who is acting: the logged-in person, from a session token, never from free text.

``pseudolink login`` stores the token in ``<workdir>/session`` (mode 0600); automation
can pass it in ``PSEUDOLINK_SESSION`` instead. Every command that changes the catalog
or acts for a person calls :func:`acting_user`, which refuses with exit 2 when nobody
is logged in, the session has expired or ended, or the account is no longer active.
"""

from __future__ import annotations

import os
from pathlib import Path

from pseudolink.cli.app import fail
from pseudolink.settings import Workspace

SESSION_ENV = "PSEUDOLINK_SESSION"
SESSION_FILE = "session"


def session_file(space: Workspace) -> Path:
    return space.root / SESSION_FILE


def session_token(space: Workspace) -> str | None:
    """The token from ``PSEUDOLINK_SESSION``, else from the workspace's session file."""
    token = os.environ.get(SESSION_ENV, "").strip()
    if token:
        return token
    path = session_file(space)
    if not path.is_file():
        return None
    if path.stat().st_mode & 0o077:
        raise fail(f"{path} is readable by others (mode {path.stat().st_mode & 0o777:o}): "
                   "delete it and run `pseudolink login` again")
    return path.read_text(encoding="utf-8").strip() or None


def store_token(space: Workspace, token: str) -> Path:
    """Write the token 0600 under a temporary name, then rename it into place."""
    path = session_file(space)
    tmp = path.with_name(f".{SESSION_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def forget_token(space: Workspace) -> None:
    session_file(space).unlink(missing_ok=True)


def acting_user(space: Workspace) -> str:
    """The id of the logged-in, active user; otherwise exit 2 with the reason."""
    return acting_user_info(space).id


def acting_user_info(space: Workspace):  # type: ignore[no-untyped-def]
    """The logged-in user's ``catalog.UserInfo`` (id and role); exit 2 when there is none."""
    import catalog

    token = session_token(space)
    if token is None:
        raise fail("not logged in: run `pseudolink login`")
    try:
        with catalog.Catalog.connect(space.database_url) as cat:
            return cat.session_user(token)
    except catalog.LoginRefused as exc:
        raise fail(str(exc)) from None
