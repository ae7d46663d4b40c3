"""``pseudolink login``, ``logout`` and ``whoami``: a person's session for catalog actions.

The password is read from a prompt or, for scripts, from standard input
(``--password-stdin``); it is never an option, so it never lands in shell history or in
the process list.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, fail, ws
from pseudolink.cli.session import (
    acting_user_info,
    forget_token,
    session_token,
    store_token,
)

PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def read_password(from_stdin: bool, prompt: str = "Password", confirm: bool = False) -> str:
    """A password from the first line of standard input, or from a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("--password-stdin: standard input held no password")
        return password
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


@app.command()
def login(
    user: Annotated[str | None, typer.Option("--user", help="Your catalog user id "
                                             "(default: your login name).")] = None,
    password_stdin: PasswordStdinOption = False,
    workdir: WorkdirOption = None,
) -> None:
    """Log in: catalog actions are then taken, and audited, as you."""
    import catalog

    space = ws(workdir)
    try:
        lifetime = space.session_lifetime
    except ValueError as exc:
        raise fail(f"{space.settings_file}: {exc}") from None
    user_id = user or getpass.getuser()
    password = read_password(password_stdin)
    try:
        with catalog.Catalog.connect(space.database_url) as cat:
            token = cat.login(user_id, password, client="cli", lifetime=lifetime)
            info = cat.session_user(token)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    store_token(space, token)
    console.print(f"logged in as [bold]{info.id}[/] ({info.role}); the session lasts "
                  f"{lifetime.total_seconds() / 3600:g} h", highlight=False)


@app.command()
def logout(workdir: WorkdirOption = None) -> None:
    """End this workspace's session (the token stops working everywhere)."""
    import catalog

    space = ws(workdir)
    token = session_token(space)
    if token is None:
        console.print("not logged in", highlight=False)
        return
    with catalog.Catalog.connect(space.database_url) as cat:
        cat.logout(token)
    forget_token(space)
    console.print("logged out", highlight=False)


@app.command()
def whoami(workdir: WorkdirOption = None) -> None:
    """Who this workspace's session acts as."""
    info = acting_user_info(ws(workdir))
    org = f", organisation {info.organisation_id}" if info.organisation_id else ""
    console.print(f"{info.id} ({info.role}{org})", highlight=False)
