"""Entry point of the ``pseudolink`` command.

Each module below registers its commands on :data:`pseudolink.cli.app.app`.
Domain errors from any subsystem become a one-line message and exit code 2.
"""

from __future__ import annotations

import importlib
import sys

from pseudolink.cli.app import EXIT_USER_ERROR, app, err_console

COMMAND_MODULES = (
    "workspace",
    "login",
    "party",
    "synth_data",
    "project",
    "holder",
    "link",
    "combine",
    "risk",
    "dp",
    "release",
    "release_dp",
    "release_synth",
    "anonymize",
    "catalog",
    "audit",
    "airlock",
    "serve",
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


def main() -> None:
    try:
        app()
    except _user_errors() as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_USER_ERROR)


__all__ = ["app", "main"]
