"""The Typer application and the options every command shares.

Command modules register on ``app`` (or a sub-app) here; ``pseudolink.cli`` imports
them all, so adding a command never means editing a central list of functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pseudolink.settings import Workspace, workspace

app = typer.Typer(
    name="pseudolink",
    help="Privacy-preserving pseudonymised data linkage and analytics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help is Markdown: a docstring's lines flow into one paragraph (Rich mode kept each
    # source line break), and brackets stay text ("[holder] max_invalid_share" lost
    # "[holder]" as Rich markup).
    rich_markup_mode="markdown",
)
console = Console()
# Errors are never wrapped: a path or a command to copy must stay on one line.
err_console = Console(stderr=True, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("pseudolink")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            number = "unknown (not installed)"
        console.print(f"pseudolink {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print pseudolink's version and exit.")] = False,
) -> None:
    """Privacy-preserving pseudonymised data linkage and analytics. Add --debug anywhere to
    see a traceback instead of a one-line error."""

WorkdirOption = Annotated[
    Path | None,
    typer.Option(
        "--workdir",
        help="Workspace directory (default ./.pseudolink or PSEUDOLINK_WORKDIR).",
        show_default=False,
    ),
]

#: Exit code for bad input or a refused action: the user can fix it, it is not a bug.
EXIT_USER_ERROR = 2


def ws(workdir: Path | None) -> Workspace:
    """The workspace a command works in; its plaintext scratch lives inside it (0700), and
    scratch left by runs that were killed is removed first, and said."""
    from linkage import scratch

    space = workspace(workdir)
    # Set even before the workspace exists: a first run's plaintext must not go to /tmp.
    scratch.set_root(space.root / "scratch", create=space.root.is_dir())
    if space.root.is_dir():
        removed = scratch.sweep()
        if removed:
            err_console.print(f"removed {len(removed)} scratch folder(s) left by interrupted "
                              f"runs in {space.root / 'scratch'}", highlight=False)
    return space


def passphrase(confirm: bool = False) -> str:
    """The passphrase that unlocks this party's keys: from the environment, else a prompt.

    ``PSEUDOLINK_PASSPHRASE_FILE`` names a 0600 file (automated deployments: a secret
    manager or systemd credential writes it); ``PSEUDOLINK_PASSPHRASE`` is read next. It is
    never written anywhere by pseudolink; keys are stored scrypt-encrypted under it.
    """
    from linkage.keys.passphrase import read_passphrase_file

    from_file = os.environ.get("PSEUDOLINK_PASSPHRASE_FILE")
    if from_file:
        from linkage import LinkageError

        try:
            return read_passphrase_file(from_file)
        except LinkageError as exc:
            raise fail(str(exc)) from None
    value = os.environ.get("PSEUDOLINK_PASSPHRASE")
    if value:
        return value
    return typer.prompt("Passphrase for this workspace's keys", hide_input=True,
                        confirmation_prompt=confirm)


def fail(message: str) -> typer.Exit:
    """Print a user-facing error and return the exit to raise (exit code 2)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_USER_ERROR)
