"""``pseudolink audit``: check and export the catalog's hash-chained audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, err_console, ws

#: Exit code when the log is readable but broken: not a usage error, a finding.
EXIT_TAMPERED = 1

group = typer.Typer(help="The catalog's append-only, hash-chained audit log.",
                    no_args_is_help=True)
app.add_typer(group, name="audit")


@group.command("verify")
def verify(workdir: WorkdirOption = None) -> None:
    """Recompute the hash chain; name every changed, deleted or reordered entry."""
    import catalog

    with catalog.Catalog.connect(ws(workdir).database_url) as cat:
        verdict = cat.verify_audit()
    if verdict.ok:
        console.print(f"audit log intact: {verdict.entries} entries")
        return
    err_console.print(f"[bold red]audit log BROKEN[/] ({verdict.entries} entries, "
                      f"{len(verdict.problems)} problems):", highlight=False)
    for problem in verdict.problems:
        err_console.print(f"  - {problem}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_TAMPERED)


@group.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    workdir: WorkdirOption = None,
) -> None:
    """Write every entry as one JSON line, for archiving or an outside auditor."""
    import catalog

    with catalog.Catalog.connect(ws(workdir).database_url) as cat:
        count = cat.export_audit(out)
    console.print(f"{count} audit entries written to {out}")
