"""Entry point of the ``pseudolink`` command.

Each module below registers its commands on :data:`pseudolink.cli.app.app`.
Domain errors from any subsystem become a one-line message and exit code 2.
"""

from __future__ import annotations

import errno
import importlib
import sys

from rich.markup import escape

from pseudolink.cli.app import EXIT_USER_ERROR, app, err_console

COMMAND_MODULES = (
    "workspace",
    "login",
    "party",
    "synth_data",
    "project",
    "project_accept",
    "holder",
    "link",
    "combine",
    "risk",
    "dp",
    "release",
    "release_dp",
    "release_synth",
    "release_takeout",
    "anonymize",
    "catalog",
    "catalog_governance",
    "catalog_request",
    "catalog_review",
    "audit",
    "doctor",
    "backup",
    "airlock",
    "serve",
    "exchange",
    "demo",
)

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(f"pseudolink.cli.{_name}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a module is missing
        if exc.name != f"pseudolink.cli.{_name}":
            raise


def _user_errors() -> tuple[type[BaseException], ...]:
    """The error types that mean 'bad input or refused action', one per subsystem."""
    errors: list[type[BaseException]] = []
    for module, name in (
        ("linkage", "LinkageError"),
        ("anonymize", "AnonymizeError"),
        ("catalog", "CatalogError"),
        ("open_api", "OpenApiError"),
        ("analysis_env", "AnalysisEnvError"),
    ):
        cls = getattr(importlib.import_module(module), name, None)
        if cls is not None:
            errors.append(cls)
    return tuple(errors)


#: What a person can do about each operating-system error, by errno.
_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space, or give a folder on a "
                  "larger disk",
    errno.EDQUOT: "disk quota exceeded: free some space, or give a folder on another disk",
    errno.EACCES: "permission denied: check the owner and mode of the file and its folder",
    errno.EPERM: "operation not permitted: check the owner and mode of the file",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EROFS: "the file system is read-only: give a writable folder",
    errno.EISDIR: "a folder was given where a file is needed",
    errno.ENOTDIR: "a file was given where a folder is needed",
}


def _os_error_line(exc: OSError) -> str:
    """One line naming the file and what to do, never a traceback."""
    advice = _OS_ADVICE.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    where = exc.filename if exc.filename is not None else None
    return f"{where}: {advice}" if where else advice


def _outage(exc: BaseException) -> bool:
    """The catalog database cannot be reached (SQLAlchemy wraps the driver's error)."""
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return False
    return isinstance(exc, OperationalError | InterfaceError)


def main() -> None:
    """Run the CLI: a domain error, an OS error or an unreachable catalog is one ``error:``
    line and exit 2; ``--debug`` (anywhere on the line) shows the traceback instead."""
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv = [arg for arg in sys.argv if arg != "--debug"]
    try:
        app()
    except SystemExit:
        raise  # first: the clauses below import every subsystem to name their errors
    except _user_errors() as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(EXIT_USER_ERROR)
    except OSError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(_os_error_line(exc))}",
                          highlight=False)
        sys.exit(EXIT_USER_ERROR)
    except Exception as exc:
        if debug or not _outage(exc):
            raise
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        err_console.print(f"[bold red]error:[/] the catalog database cannot be reached "
                          f"({escape(reason)}); check that it is running and that database_url is "
                          "right, or rerun with --debug", highlight=False)
        sys.exit(EXIT_USER_ERROR)


__all__ = ["app", "main"]
