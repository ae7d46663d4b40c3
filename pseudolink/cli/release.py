"""``pseudolink release ...``: the group under which each release form registers its verb."""

from __future__ import annotations

import typer

from pseudolink.cli.app import app

release_app = typer.Typer(help="Produce a release (DP tables, synthetic data) and record it.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")
