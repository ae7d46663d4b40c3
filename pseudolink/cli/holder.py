"""``pseudolink holder prepare``: keyed hashing on the holder's own premises."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, app, console, fail, passphrase, ws
from pseudolink.cli.artifacts import sha256_file
from pseudolink.cli.engine_option import EngineOption, SparkMasterOption, compute_engine
from pseudolink.cli.progress import progress_bars
from pseudolink.settings import Workspace

group = typer.Typer(help="Work done at a data holder.", no_args_is_help=True)
app.add_typer(group, name="holder")


@group.command("prepare")
def prepare(
    project: Annotated[str, typer.Option(help="Project id.")],
    holder: Annotated[str, typer.Option(help="This holder's party id.")],
    input: Annotated[Path, typer.Option("--input", help="Holder file (.csv or .parquet).")],
    out: Annotated[Path, typer.Option(help="Directory for the keys file and payload (the "
                                           "crosswalk stays in the workspace's private/).")],
    encoding: Annotated[str | None, typer.Option(
        help="CSV encoding (default: detect UTF-8, UTF-8 with BOM or CP949/EUC-KR).")] = None,
    engine: EngineOption = "duckdb",
    spark_master: SparkMasterOption = None,
    spec: Annotated[Path | None, typer.Option(
        help="This holder's own copy of the project spec (TOML); refuse if project.json "
             "differs from it.")] = None,
    accept_invalid: Annotated[list[str] | None, typer.Option(
        "--accept-invalid", metavar="COLUMN",
        help="Link without this identifier column's invalid values even when more than "
             "--max-invalid-share of them are invalid (repeatable).")] = None,
    max_invalid_share: Annotated[float | None, typer.Option(
        help="Refuse a column whose share of values invalid for its kind is higher "
             "(default: [holder] max_invalid_share in settings.toml, else 0.05).")
    ] = None,
    send: Annotated[str | None, typer.Option(
        "--send", metavar="URL",
        help="Then send the keys file and payload through this exchange (as `exchange "
             "push` would); the crosswalk stays here.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Split a holder file into linkage keys (key manager) and attributes (combiner).

    Refused unless project.json is exactly what this holder accepted (`project accept`),
    and refused when a column's values are mostly invalid for its kind (see docs/linkage.md).
    """
    import linkage
    from linkage.keys.acceptance import require_every_share
    from pseudolink.cli.project_accept import check_spec_file, outgoing_files

    compute = compute_engine(engine, spark_master)
    space = ws(workdir)
    if max_invalid_share is None:
        try:
            max_invalid_share = space.max_invalid_share
        except ValueError as exc:  # a malformed settings.toml is the user's to fix
            raise fail(str(exc)) from None
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        if spec is not None:
            check_spec_file(manifest, spec)
        linkage.check_accepted(manifest, holder, space.keys)
        require_every_share(manifest)
        actor = governance.stage_actor(space, "prepare", holder)
        console.print(outgoing_files(manifest, holder, out, space.keys))
        with progress_bars(transient=True) as progress:
            report = linkage.prepare(space.project_dir(project), holder, input, out,
                                     space.keys, passphrase(), encoding=encoding,
                                     engine=compute, progress=progress,
                                     accept_invalid=accept_invalid or (),
                                     **({} if max_invalid_share is None else
                                        {"max_invalid_share": max_invalid_share}))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    governance.record(space, manifest, "prepare", actor, holder, report.outputs,
                      {"records": report.records, "input_sha256": sha256_file(input)})
    table = Table(title=f"{holder}: {report.records:,} records", show_lines=False)
    for column in ("recipe", "keys", "share"):
        table.add_column(column, justify="right" if column != "recipe" else "left")
    for recipe, count in report.keys_per_recipe.items():
        table.add_row(recipe, f"{count:,}", f"{count / report.records:.1%}")
    console.print(table)
    invalid = {k: v for k, v in report.invalid.items() if v}
    console.print(f"invalid identifiers: {invalid or 'none'}; derived from RRN: "
                  f"{ {k: v for k, v in report.derived.items() if v} or 'none'}")
    for label, path in report.outputs.items():
        console.print(f"  {label}: {path}")
    if send:
        _send(space, project, holder, [Path(report.outputs[k]) for k in ("keys", "payload")],
              send)


def _send(space: Workspace, project: str, holder: str, envelopes: list[Path], url: str
          ) -> None:
    """Push the sealed halves in this process: its keys are unlocked already."""
    import linkage
    from linkage.exchange import ExchangeClient, ExchangeError

    try:
        me = linkage.load_party_secret(space.keys, holder, passphrase())
        with ExchangeClient(url, me) as client, progress_bars(transient=True) as progress:
            for path in envelopes:
                pushed = client.push(project, path, progress=lambda done, total, p=path:
                                     progress(f"send {p.name}", done, total))
                state = "sent" if pushed.created else "already at the exchange"
                console.print(f"{path.name}: {pushed.kind} for {pushed.recipient}, {state} "
                              f"(sha256 {pushed.sha256[:12]})", highlight=False)
    except (linkage.LinkageError, ExchangeError) as exc:
        raise fail(f"prepared, but not sent: {exc}; send the files with `pseudolink "
                   f"exchange push`") from None


@group.command("review")
def review(
    project: Annotated[str, typer.Option(help="Project id.")],
    holder: Annotated[str, typer.Option(help="This holder's party id.")],
    review_list: Annotated[Path, typer.Option(
        "--review", help="H.review.age from the key manager's link --review-band.")],
    out: Annotated[Path, typer.Option(
        help="Directory for H.decisions.age (with --decisions).")] = Path("."),
    decisions: Annotated[Path | None, typer.Option(
        help="CSV or Parquet of review_id, decision (match | non-match); seal it to the "
             "key manager. Without it, write the review sheet for this holder's clerk.")
    ] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Clerical review of uncertain fuzzy pairs, by this holder's own records only.

    First run without --decisions: the sheet (review_id, record_id, probability) goes to
    this holder's private folder. Then fill in a decision per row and run with --decisions.
    """
    import pyarrow.csv as pacsv

    import linkage
    from linkage.files import atomic_path
    from linkage.fuzzy import review as clerical
    from linkage.prepare import make_private, private_dir

    space = ws(workdir)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        actor = governance.stage_actor(space, "review", holder)
        if decisions is not None:
            sealed = clerical.seal_decisions(manifest, holder, review_list, decisions, out,
                                             space.keys, passphrase())
            governance.record(space, manifest, "review", actor, holder,
                              {"decisions": sealed}, {"step": "decisions"})
            console.print(f"decisions sealed to the key manager: {sealed}")
            return
        sheet = clerical.review_sheet(manifest, holder, review_list, space.keys, passphrase())
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    target = make_private(private_dir(space.keys, manifest.id)) / f"{holder}.review.csv"
    with atomic_path(target, mode=0o600) as tmp:
        pacsv.write_csv(sheet.append_column(
            "decision", _empty_decisions(sheet.num_rows)), tmp)
    governance.record(space, manifest, "review", actor, holder, {"sheet": target},
                      {"step": "sheet", "entries": sheet.num_rows})
    console.print(f"{sheet.num_rows:,} records to review (some are decoys; answer each): "
                  f"{target}")


def _empty_decisions(rows: int):
    """An empty ``decision`` column for the clerk to fill in."""
    import pyarrow as pa

    return pa.array([""] * rows, pa.string())


@group.command("extract")
def extract(
    project: Annotated[str, typer.Option(help="Project id.")],
    holder: Annotated[str, typer.Option(help="This holder's party id.")],
    matched: Annotated[Path | None, typer.Option(help="No longer used.")] = None,
    out: Annotated[Path | None, typer.Option(help="No longer used.")] = None,
    held: Annotated[Path | None, typer.Option(help="No longer used.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Withdrawn: holders send full payloads and combine keeps only linked records."""
    from linkage.extract import WITHDRAWN

    raise fail(WITHDRAWN)
