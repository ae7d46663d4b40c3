"""``pseudolink project create|rotate-key|close``: the public manifest; holders make the key.

``project accept`` (the holders' side) is in :mod:`pseudolink.cli.project_accept`.
"""

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
    """Write the public manifest (spec, parties' keys, nonce); each holder then accepts it."""
    import linkage

    space = ws(workdir)
    try:
        parsed = linkage.ProjectSpec.load(spec)
        manifest = linkage.create_project(parsed, space.keys, space.project_dir(parsed.id))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"project [bold]{manifest.id}[/] ({parsed.purpose}, {parsed.mode}): key "
                  f"manager {parsed.key_manager}, combiner {parsed.combiner}; no key yet: "
                  f"send project.json to holders {', '.join(parsed.holder_ids)}, each runs "
                  f"`pseudolink project accept --project {manifest.id} --holder H`\n"
                  f"  manifest: {manifest.path}")


@group.command("rotate-key")
def rotate_key(
    project: Annotated[str, typer.Option(help="Project id.")],
    workdir: WorkdirOption = None,
) -> None:
    """Start a new key version: holders accept again (new shares), then prepare again."""
    import linkage

    space = ws(workdir)
    try:
        manifest = linkage.rotate_project_key(space.project_dir(project), space.keys)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"project [bold]{manifest.id}[/] now at key version {manifest.key_version}; "
                  "this workspace's shares of the old key are destroyed. Send project.json to "
                  f"holders {', '.join(manifest.spec.holder_ids)}: each accepts again (`pseudolink "
                  "project accept`), drawing a new share, then prepares again. Link maps and "
                  "combined data made before stay valid.")


@group.command("close")
def close(
    project: Annotated[str, typer.Option(help="Project id.")],
    actor: Annotated[str, typer.Option(help="Who closes it, for the audit log.")] = "cli",
    workdir: WorkdirOption = None,
) -> None:
    """Destroy the project key and link map in this workspace; the project accepts no work."""
    import linkage

    space = ws(workdir)
    try:
        manifest = linkage.close_project(space.project_dir(project), space.keys)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    _record_close(space.database_url, manifest, actor)
    console.print(f"project [bold]{manifest.id}[/] closed at {manifest.closed_at}: project "
                  "key and link map destroyed in this workspace; recorded in the audit log")


def _record_close(url: str, manifest, actor: str) -> None:
    """Mark the project closed in the catalog, or at least write the audit entry.

    linkage knows nothing of the catalog, so the CLI joins the two here.
    """
    import catalog

    details = {"closed_at": manifest.closed_at, "key_version": manifest.key_version,
               "destroyed": ["project key", "link map"]}
    try:
        catalog.init_catalog(url)
        with catalog.Catalog.connect(url) as cat:
            actions = {e.get("action") for e in cat.audit_entries()
                       if e.get("target") == manifest.id}
            recorded, closed = "project.record" in actions, "project.close" in actions
            if recorded and not closed:
                cat.close_project(manifest.id, actor=actor)
            elif not closed:
                cat.audit(actor, "project.close", manifest.id, details)
    except catalog.CatalogError as exc:
        raise fail(f"project {manifest.id} is closed, but the audit log could not record it: "
                   f"{exc}") from None
