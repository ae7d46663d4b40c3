"""``pseudolink airlock``: results out of the secure room, through checks and two checkers.

Every command acts as the person logged in with ``pseudolink login``: a checker's vote is
theirs alone, so one operator cannot cast both votes by naming two users.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, app, console, ws
from pseudolink.cli.session import acting_user

group = typer.Typer(help="Release requests for outputs of the secure analysis room.",
                    no_args_is_help=True)
app.add_typer(group, name="airlock")
AirlockId = Annotated[str, typer.Argument(help="The release request's id (out-...).")]


def _airlock(workdir: Path | None):
    import catalog
    from analysis_env import Airlock
    from anonymize import OutputThresholds

    space = ws(workdir)
    user = acting_user(space)
    thresholds = (OutputThresholds.load(space.settings_file)
                  if "outputs" in space.settings() else OutputThresholds())
    cat = catalog.Catalog.connect(space.database_url)
    return Airlock(space.root / "airlock", cat, thresholds), cat, space, user


def _show(request) -> None:
    console.print(f"[bold]{request.id}[/] by {request.author}: [bold]{request.state}[/]",
                  highlight=False)
    console.print(f"context: {request.context}\ncontrols: {request.controls}", highlight=False)
    table = Table("file", "sha256", "kind", "checks", "votes")
    for file in request.files:
        checks = "\n".join(("ok " if c["ok"] else "HELD ") + ("(review) " if c["review"] else "")
                           + c["reason"] for c in file.checks)
        votes = ", ".join(f"{v.checker}: {v.decision}" for v in file.votes) or \
            f"{file.votes_in} in"
        table.add_row(file.name, file.sha256[:12], file.kind, checks, votes)
    console.print(table)


@group.command("request")
def request(
    files: Annotated[list[str], typer.Argument(help="Files in outputs/ to release.")],
    context: Annotated[str, typer.Option(help="What the outputs show and why they are needed.")],
    controls: Annotated[str, typer.Option(help="Disclosure controls applied (rounding, "
                                                "suppression, minimum counts).")],
    outputs: Annotated[Path | None, typer.Option(help="The outputs folder (default: the "
                                                      "user's room outputs/).")] = None,
    kind: Annotated[list[str] | None, typer.Option(
        help="FILE=frequency_table|magnitude_table|model|figure|text; the content is "
             "checked, and a kind it contradicts is refused.")] = None,
    request_id: Annotated[str | None, typer.Option(
        "--id", help="The request's id (default: out- and 8 random hex digits).")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Ask for files to leave the room; the automatic checks run now."""
    airlock, cat, space, user = _airlock(workdir)
    with cat:
        kinds = dict(item.split("=", 1) for item in kind or [])
        folder = outputs or space.root / "room" / user / "outputs"
        _show(airlock.request(user, folder, files, context=context, controls=controls,
                              kinds=kinds, request_id=request_id))


@group.command("list")
def list_requests(state: Annotated[list[str] | None, typer.Option(
        help="Only these states.")] = None, workdir: WorkdirOption = None) -> None:
    """Requests you may see: a checker sees all, a researcher their own."""
    airlock, cat, _, user = _airlock(workdir)
    with cat:
        table = Table("id", "author", "state", "files", "held", "updated")
        for item in airlock.list(actor=user, states=state):
            table.add_row(item.id, item.author, item.state, str(len(item.files)),
                          str(sum(f.held for f in item.files)), item.updated_at)
        console.print(table)


@group.command("review")
def review(request_id: AirlockId, workdir: WorkdirOption = None) -> None:
    """Show a request with its files, checks and the votes you may see (audit-logged)."""
    airlock, cat, _, user = _airlock(workdir)
    with cat:
        _show(airlock.view(request_id, actor=user))


@group.command("vote")
def vote(
    request_id: AirlockId,
    decision: Annotated[str, typer.Argument(help="approve, reject or return")],
    reason: Annotated[str, typer.Option(help="Why (required to reject or return).")] = "",
    file: Annotated[list[str] | None, typer.Option(help="Only these files.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Record your independent decision; the request moves when both votes are in."""
    airlock, cat, _, user = _airlock(workdir)
    with cat:
        result = airlock.vote(request_id, decision, actor=user, reason=reason, files=file)
        console.print(f"{request_id}: {result.state}", highlight=False)


@group.command("resubmit")
def resubmit(request_id: AirlockId,
             file: Annotated[list[str] | None, typer.Option(
                 help="Edited files to take again from outputs/.")] = None,
             outputs: Annotated[Path | None, typer.Option(
                 help="The outputs folder (default: your room's outputs/).")] = None,
             workdir: WorkdirOption = None) -> None:
    """Send a returned request back, with its edited files (their votes restart)."""
    airlock, cat, space, user = _airlock(workdir)
    with cat:
        folder = outputs or space.root / "room" / user / "outputs"
        for name in file or []:
            airlock.update_file(request_id, folder, name, actor=user)
        _show(airlock.resubmit(request_id, actor=user))


@group.command("release")
def release(request_id: AirlockId, workdir: WorkdirOption = None) -> None:
    """Copy an approved request's files to the researcher's outbox, by SHA-256."""
    airlock, cat, _, user = _airlock(workdir)
    with cat:
        for path in airlock.release(request_id, actor=user):
            console.print(f"released {path}", highlight=False)
