"""``pseudolink link``: the key manager matches keys across holders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, app, console, fail, passphrase, ws
from pseudolink.cli.engine_option import EngineOption, SparkMasterOption, compute_engine
from pseudolink.cli.progress import progress_bars

#: Lets ``--keys A B C`` take several files after one flag, as DESIGN 5 writes it.
MANY_FILES = {"allow_extra_args": True, "ignore_unknown_options": True}


def files_after_option(first: list[Path], ctx: typer.Context, option: str) -> list[Path]:
    """The files given to ``option``: its own values plus the words that followed it."""
    unknown = [arg for arg in ctx.args if arg.startswith("-")]
    if unknown:
        raise fail(f"unknown option {unknown[0]}")
    files = [*first, *(Path(arg) for arg in ctx.args)]
    if not files:
        raise fail(f"give at least one file to {option}")
    return files


@app.command("link", context_settings=MANY_FILES)
def link(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(help="Project id.")],
    keys: Annotated[list[Path], typer.Option(help="Holders' keys files (*.keys.age).")],
    out: Annotated[Path, typer.Option(help="Directory for linkmap.age and link-report.json.")],
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
    precheck: Annotated[bool, typer.Option(
        "--precheck", help="Report match rates only; write no link map.")] = False,
    as_party: Annotated[str | None, typer.Option(
        "--as", help="Key manager party id (default: the project's).")] = None,
    review_band: Annotated[str | None, typer.Option(
        metavar="LOW:HIGH", help="Fuzzy mode: also seal each holder H.review.age, its "
        "serials of the pairs whose probability is in LOW:HIGH, padded with decoys.")] = None,
    decisions: Annotated[list[Path] | None, typer.Option(
        help="Fuzzy mode: holders' H.decisions.age from an earlier review (repeatable); "
             "rejected pairs are not linked, confirmed ones are.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Link records recipe by recipe; emit the link map encrypted to the combiner."""
    import linkage

    keys = files_after_option(keys, ctx, "--keys")
    compute = compute_engine(engine, spark_master)
    space = ws(workdir)
    stage = "precheck" if precheck else "link"
    try:
        band = None
        if review_band is not None:
            from linkage.fuzzy.review import parse_band

            band = parse_band(review_band)
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        party = as_party or manifest.spec.key_manager
        actor = governance.stage_actor(space, stage, party)
        with progress_bars(transient=True) as progress:
            report = linkage.link(space.project_dir(project), keys, out, space.keys,
                                  passphrase(), as_party=as_party, engine=compute,
                                  precheck=precheck, progress=progress, review_band=band,
                                  decisions=decisions or ())
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    governance.record(space, manifest, stage, actor, party, report.outputs,
                      {"links": report.links, "inputs": [str(k) for k in keys]})
    table = Table(title="match rates per holder and recipe" if precheck else
                  f"{report.links:,} links")
    for column in ("holder", "recipe", "records", "keys", "shared", "rate", "linked", "dups"):
        table.add_column(column, justify="left" if column in ("holder", "recipe") else "right")
    for holder, recipes in report.holders.items():
        for recipe, stats in recipes.items():
            table.add_row(holder, recipe, f"{stats.records:,}", f"{stats.keys:,}",
                          f"{stats.shared:,}", f"{stats.match_rate:.1%}",
                          "-" if precheck else f"{stats.links:,}",
                          f"{stats.duplicate_records:,}")
    console.print(table)
    console.print(f"links per recipe: {report.links_per_recipe}; records kept out as "
                  f"duplicates {report.duplicates:,}, conflicts {report.conflicts:,}")
    for label, path in report.outputs.items():
        console.print(f"  {label}: {path}")
