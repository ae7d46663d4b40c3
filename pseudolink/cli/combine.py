"""``pseudolink combine``: the combination agency joins attributes through the link map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, app, console, fail, passphrase, ws
from pseudolink.cli.engine_option import EngineOption, SparkMasterOption, compute_engine
from pseudolink.cli.link import MANY_FILES, files_after_option
from pseudolink.cli.progress import progress_bars


@app.command("combine", context_settings=MANY_FILES)
def combine(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(help="Project id.")],
    linkmap: Annotated[Path, typer.Option(help="The key manager's linkmap.age.")],
    payloads: Annotated[list[Path], typer.Option(help="Holders' payload files.")],
    out: Annotated[Path, typer.Option(help="Combined Parquet file to write.")],
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
    as_party: Annotated[str | None, typer.Option(
        "--as", help="Combiner party id (default: the project's).")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Write link_id plus each holder's attributes as {holder}__{column}."""
    import linkage

    payloads = files_after_option(payloads, ctx, "--payloads")
    compute = compute_engine(engine, spark_master)
    space = ws(workdir)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        party = as_party or manifest.spec.combiner
        actor = governance.stage_actor(space, "combine", party)
        with progress_bars(transient=True) as progress:
            report = linkage.combine(space.project_dir(project), linkmap, payloads, out,
                                     space.keys, passphrase(), as_party=as_party,
                                     engine=compute, progress=progress)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    # The inputs are this workspace's copies too: the link map and payloads it received.
    received = {"linkmap": linkmap, **{f"payload {i}": p for i, p in enumerate(payloads, 1)}}
    governance.record(space, manifest, "combine", actor, party,
                      {**received, "combined": report.path}, {"rows": report.rows})
    console.print(f"{report.rows:,} combined rows, {len(report.columns)} columns "
                  f"(records per holder {report.records_per_holder}) -> {report.path}")
