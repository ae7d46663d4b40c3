"""``pseudolink release synth``: a synthetic microdata release, gated and recorded.

The dataset's file and column classification come from the catalog, and the file is read only
if its SHA-256 is still the one registered (``--data`` may name a copy, never other data, since
the budget charged is the registered dataset's); the release is written to
``W/releases/<id>.parquet`` (temporary name, then renamed), with its quality chart beside it,
and recorded with its quality report and privacy-gate numbers, so the open API serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, console, fail, ws
from pseudolink.cli.artifacts import publish_parquet, sha256_file
from pseudolink.cli.progress import progress_bars
from pseudolink.cli.release import release_app
from pseudolink.cli.session import acting_user


@release_app.command("synth")
def release_synth(
    dataset: Annotated[str, typer.Option("--dataset", help="Catalog dataset id.")],
    rows: Annotated[int, typer.Option("--rows", help="Synthetic rows to release.")],
    synthesizer: Annotated[str, typer.Option(
        help="default | gaussian_copula | ctgan | tvae | dp-mst")] = "default",
    epsilon: Annotated[float | None, typer.Option(
        help="Privacy loss for dp-mst, charged to the dataset's budget.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs for ctgan / tvae.")] = 300,
    release_id: Annotated[str | None, typer.Option("--id", help="Release id.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Read the dataset from this copy of the registered file (same SHA-256).")
    ] = None,
    person_key: Annotated[str | None, typer.Option(
        help="dp-mst: the column naming each person (default: the one the dataset was "
             "registered with, else link_id); rows per person are bounded by it.")] = None,
    rows_per_person: Annotated[int, typer.Option(
        help="dp-mst: rows of one person kept (the input distance epsilon is for).")] = 1,
    consumer: Annotated[str, typer.Option(help="Budget consumer charged for dp-mst.")] = "public",
    domains: Annotated[Path | None, typer.Option(
        help="dp-mst: TOML of declared [categories] and [ranges]; undeclared numeric ranges "
             "are discovered with part of epsilon, undeclared text columns refused.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_dcr_share: Annotated[float, typer.Option(help="Gate: DCR share limit.")] = 0.6,
    max_mia_auc: Annotated[float, typer.Option(help="Gate: membership AUC limit.")] = 0.6,
    workdir: WorkdirOption = None,
) -> None:
    """Fit a synthesizer on a catalogued dataset, check privacy, and release the rows."""
    import pandas as pd

    import anonymize
    import catalog

    space = ws(workdir)
    # The logged-in officer approves the release; checked before any budget is spent.
    actor = acting_user(space)
    release_id = release_id or f"{dataset}-synthetic-{synthesizer}"
    with catalog.Catalog.connect(space.database_url, root=space.root) as cat:
        cat.require(actor, "release.record")
        info = cat.dataset(dataset)
        if info is None:
            raise fail(f"no dataset {dataset!r} in the catalog")
        columns = info.columns
        # The dataset's declared person key unless the officer names another.
        person_key = person_key or info.lineage.get("person_key")
        path = Path(data or info.path)
        if not path.is_file():
            raise fail(f"{path}: dataset file of {dataset!r} not found")
        _check_digest(path, info, given=data is not None)
        if rows_per_person < 1:
            raise fail("--rows-per-person must be at least 1")
        frame = pd.read_parquet(path)
        try:  # every refusal that needs no fitting, before any budget is charged
            anonymize.check_release_inputs(frame, rows, synthesizer=synthesizer,
                                           columns=columns, epsilon=epsilon,
                                           person_key=person_key)
        except anonymize.AnonymizeError as exc:
            raise fail(f"dataset {dataset!r}: {exc}") from None
        declared = None
        if domains is not None:
            try:
                declared = anonymize.load_domains(domains)
            except anonymize.AnonymizeError as exc:
                raise fail(str(exc)) from None
        if synthesizer == "dp-mst":
            if epsilon is None:
                raise fail("--synthesizer dp-mst needs --epsilon")
            # The officer's clamping bounds for DP queries are declared ranges too.
            bounds = {col: anonymize.NumericRange(float(lo), float(hi))
                      for col, (lo, hi) in cat.column_bounds(dataset).items()}
            declared = {**bounds, **(declared or {})}
            missing = anonymize.undeclared_categories(
                anonymize.modelled_columns(frame, columns, person_key)[0], declared)
            if missing:
                raise fail(f"dp-mst needs the categories of {', '.join(missing)} declared "
                           "(--domains): they are never read from the data")
            # Charged before any measurement: a refused spend leaves the data untouched.
            remaining = cat.spend(dataset, consumer, epsilon, actor=actor,
                                  query={"kind": "synthetic", "synthesizer": "dp-mst",
                                         "rows": rows, "release": release_id})
            console.print(f"epsilon {epsilon} charged to {dataset}/{consumer}; "
                          f"{remaining:g} left")
        thresholds = anonymize.GateThresholds(max_dcr_share=max_dcr_share,
                                              max_mia_auc=max_mia_auc)
        with progress_bars() as progress:
            result = anonymize.synthetic_release(
                frame, rows, synthesizer=synthesizer, columns=columns, epsilon=epsilon,
                epochs=epochs, seed=seed, thresholds=thresholds, progress=progress,
                domains=declared, person_key=person_key, rows_per_person=rows_per_person)
        out, checksum = publish_parquet(result.data, space.releases, release_id)
        parameters = result.report()
        chart = anonymize.write_chart(parameters, out.with_suffix(".quality.png"))
        parameters["chart"] = str(chart)
        cat.record_release(
            release_id, dataset_id=dataset, form="synthetic",
            title=f"Synthetic {dataset} ({result.synthesizer})", artifact=str(out),
            checksum=checksum, parameters=parameters, actor=actor)
    _print_report(result, out)


def _check_digest(path: Path, info: object, *, given: bool) -> None:
    """The file must be the registered content: the budget charged is that dataset's."""
    registered = info.sha256 or info.lineage.get("file_sha256")
    if registered is None:
        if given:
            raise fail(f"--data {path}: dataset {info.id!r} was registered without a digest, "
                       "so no other file can be shown to be it; register the file")
        return
    if sha256_file(path) != registered:
        where = "--data " if given else ""
        raise fail(f"{where}{path}: not the file registered as dataset {info.id!r} (its "
                   "SHA-256 differs); register it as a dataset of its own")


def _print_report(result: object, out: Path) -> None:
    quality = result.quality
    table = Table(title=f"{result.synthesizer}: quality {quality['quality_score']:.1%}, "
                        f"diagnostic {quality['diagnostic_score']:.1%}")
    table.add_column("column")
    table.add_column("shape score", justify="right")
    table.add_column("")
    for column, score in quality["column_shapes"].items():
        value = score or 0.0
        table.add_row(column, f"{value:.2f}", "█" * round(value * 20))
    console.print(table)
    gate = result.gate
    if not result.gate_applied:
        console.print(f"privacy gate not applied: the rows are epsilon-DP per person "
                      f"(at most {result.dp.get('rows_per_person', 1)} rows of each) and "
                      "published as drawn", highlight=False)
    else:
        console.print(f"privacy gate passed: exact copies {gate.exact_copies}, DCR share "
                      f"{gate.dcr_share:.3f}, membership AUC {gate.mia_auc:.3f}, "
                      "QI-unique people disclosed "
                      f"{'not checked' if gate.unique_matches is None else gate.unique_matches}")
    regression = result.utility.get("regression")
    if regression:
        coef = Table(title=regression["model"])
        for name in ("term", "real", "synthetic"):
            coef.add_column(name, justify="right" if name != "term" else "left")
        for term, pair in regression["coefficients"].items():
            coef.add_row(term, f"{pair['real']:.4g}", f"{pair['synthetic']:.4g}")
        console.print(coef)
    console.print(f"{len(result.data):,} rows -> {out}")

