"""``pseudolink project create|close``: the project key, wrapped to the holders only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, fail, ws

group = typer.Typer(help="Linkage projects.", no_args_is_help=True)
app.add_typer(group, name="project")


@group.command("create")
def create(
    spec: Annotated[Path, typer.Option(help="Project spec (TOML, DESIGN 5).")],
    workdir: WorkdirOption = None,
) -> None:
    """Generate the project key, wrap it to each holder, write the public manifest."""
    import linkage

    space = ws(workdir)
    try:
        parsed = linkage.ProjectSpec.load(spec)
        manifest = linkage.create_project(parsed, space.keys, space.project_dir(parsed.id))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"project [bold]{manifest.id}[/] ({parsed.purpose}, {parsed.mode}): key "
                  f"wrapped to holders {', '.join(parsed.holder_ids)} only; key manager "
                  f"{parsed.key_manager}, combiner {parsed.combiner}\n"
                  f"  manifest: {manifest.path}")


@group.command("close")
def close(
    project: Annotated[str, typer.Option(help="Project id.")],
    workdir: WorkdirOption = None,
) -> None:
    """Destroy the project key and link map in this workspace; the project accepts no work."""
    import linkage

    space = ws(workdir)
    try:
        manifest = linkage.close_project(space.project_dir(project), space.keys)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"project [bold]{manifest.id}[/] closed at {manifest.closed_at}: project "
                  "key and link map destroyed in this workspace")
