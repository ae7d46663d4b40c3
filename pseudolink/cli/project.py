"""``pseudolink project create|rotate-key|close|list|status``: the public manifest; holders make
the key; close destroys every file the project left in this workspace's catalog.

``project accept`` (the holders' side) is in :mod:`pseudolink.cli.project_accept`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli import governance
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
        actor = governance.stage_actor(space, "create", "workspace")
        manifest = linkage.create_project(parsed, space.keys, space.project_dir(parsed.id))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    governance.record(space, manifest, "create", actor, "workspace")
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
    workdir: WorkdirOption = None,
) -> None:
    """Destroy every file of the project this workspace recorded, wherever it was written.

    Keys, link maps, payloads, crosswalks, combined data: each is shredded at the path the
    catalog recorded, and a destruction certificate (files, digests, when, by whom) goes
    to the audit log. The manifest stays, marked closed, so that no stage runs again.
    """
    import linkage

    space = ws(workdir)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    actor = governance.stage_actor(space, "project.close", "workspace")
    # The catalog's files first: a failure after this leaves nothing it listed behind,
    # and a second close finds them absent and says so.
    certificate = governance.destroy(space, manifest, actor)
    try:
        manifest = linkage.close_project(space.project_dir(project), space.keys)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    files = certificate["files"]
    absent = [f["path"] for f in files if f["state"] == "absent"]
    console.print(f"project [bold]{manifest.id}[/] closed at {manifest.closed_at}: project key "
                  f"and {len(files) - len(absent)} recorded file(s) destroyed; destruction "
                  "certificate recorded in the audit log", highlight=False)
    if absent:
        console.print(f"  not found at the recorded path (already gone, or moved): "
                      f"{', '.join(absent)}", highlight=False)


@group.command("retain")
def retain(
    project: Annotated[str, typer.Option(help="Project id.")],
    until: Annotated[str, typer.Option(help="Last day the project's files may be kept "
                                            "(YYYY-MM-DD, UTC).")],
    workdir: WorkdirOption = None,
) -> None:
    """Set the retention date: after it, `pseudolink catalog sweep` destroys the files."""
    from datetime import UTC, datetime, time, timedelta

    import catalog
    from pseudolink.cli.session import acting_user

    space = ws(workdir)
    try:
        day = datetime.strptime(until, "%Y-%m-%d").date()
    except ValueError:
        raise fail(f"--until {until!r}: write a date as YYYY-MM-DD") from None
    actor = acting_user(space)
    # Kept through the whole of that day: destruction is due from the next midnight.
    due = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    try:
        with governance.open_catalog(space) as cat:
            cat.set_retention(project, due, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"project {project}: files kept until {day:%Y-%m-%d}; the sweep destroys "
                  "them after that", highlight=False)


@group.command("list")
def list_projects(workdir: WorkdirOption = None) -> None:
    """The projects this workspace's catalog knows: status, last stage, files held, retention."""
    with governance.open_catalog(ws(workdir)) as cat:
        found = cat.list_projects()
    table = Table("project", "status", "purpose", "last stage", "files held", "retain until")
    for p in found:
        held = sum(1 for a in p.artefacts if a.destroyed_at is None)
        table.add_row(p.id, p.status, p.purpose,
                      p.stages[-1]["stage"] if p.stages else "-", str(held),
                      f"{p.retain_until:%Y-%m-%d}" if p.retain_until else "-")
    console.print(table)


@group.command("status")
def status(
    project: Annotated[str, typer.Option(help="Project id.")],
    workdir: WorkdirOption = None,
) -> None:
    """Parties and acceptance, stages run, files held (digests) and retention."""
    import catalog
    import linkage

    space = ws(workdir)
    try:
        with governance.open_catalog(space) as cat:
            info = cat.project_status(project)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"project [bold]{info.id}[/] ({info.purpose}, {info.mode}): {info.status}"
                  + (f" since {info.closed_at:%Y-%m-%d %H:%M}" if info.closed_at else "")
                  + "; retain until "
                  + (f"{info.retain_until:%Y-%m-%d}" if info.retain_until else "not set"),
                  highlight=False)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
    except linkage.LinkageError:
        manifest = None
    parties = Table("party", "role", "accepted")
    if manifest is not None:
        spec = manifest.spec
        for holder_id in spec.holder_ids:
            parties.add_row(holder_id, "holder", _accepted(space, manifest, holder_id))
        parties.add_row(spec.key_manager, "key manager", "-")
        parties.add_row(spec.combiner, "combiner", "-")
    else:
        for holder_id in info.holders:
            parties.add_row(holder_id, "holder", "unknown (no manifest here)")
    console.print(parties)
    stages = Table("stage", "party", "actor", "at", "files")
    for stage in info.stages:
        stages.add_row(stage["stage"], stage["party"] or "-", stage["actor"],
                       f"{stage['at']:%Y-%m-%d %H:%M:%S}", str(stage["files"]))
    console.print(stages)
    files = Table("kind", "party", "path", "sha256", "size", "state")
    for a in info.artefacts:
        files.add_row(a.kind, a.holder, a.path, a.sha256[:16], f"{a.size:,}",
                      f"destroyed {a.destroyed_at:%Y-%m-%d}" if a.destroyed_at else "held")
    console.print(files)


def _accepted(space, manifest, holder_id: str) -> str:  # type: ignore[no-untyped-def]
    """Whether the holder accepted this manifest as it is now (checked, not assumed)."""
    import linkage

    if not manifest.is_open:
        return "- (closed)"
    try:
        linkage.check_accepted(manifest, holder_id, space.keys)
        return "yes"
    except linkage.LinkageError:
        # Another workspace's acceptance: its signed statement travels with project.json.
        statement = space.project_dir(manifest.id) / f"{holder_id}.accept.json"
        return "signed statement here" if statement.is_file() else "no"
