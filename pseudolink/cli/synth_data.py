"""``pseudolink synth-data``: entirely fake Korean holder files for tests, demos and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import app, console
from pseudolink.cli.progress import progress_bars


@app.command("synth-data")
def synth_data(
    people: Annotated[int, typer.Option(help="People in the social-security file.")],
    out: Annotated[Path, typer.Option(help="Directory for the generated files.")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same files.")] = 0,
    typo_rate: Annotated[float, typer.Option(
        help="Share of building records with one identifier error.")] = 0.0,
    overlap: Annotated[float, typer.Option(
        help="Share of social-security people who also own a building.")] = 0.5,
    building_only: Annotated[float, typer.Option(
        help="Building owners with no social-security record, per social-security "
             "person.")] = 0.25,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    chunk_size: Annotated[int, typer.Option(help="People generated per chunk.")] = 500_000,
) -> None:
    """Generate ssis and building holder files, their true pairs and a project spec."""
    from anonymize.hierarchies import load_admin_areas
    from linkage.synthdata import generate

    with progress_bars() as progress:
        report = generate(out, people, areas=load_admin_areas(), seed=seed, typo_rate=typo_rate,
                          overlap=overlap, building_only=building_only,
                          chunk_size=chunk_size, fmt=fmt, progress=progress)
    summary = Table(title="synthetic data (entirely fake)", show_header=False)
    summary.add_row("people", f"{report.people:,}")
    for holder, rows in report.rows.items():
        summary.add_row(f"{holder} rows", f"{rows:,}")
    summary.add_row("true pairs", f"{report.true_pairs:,}")
    summary.add_row("identifier errors", ", ".join(
        f"{kind} {count:,}" for kind, count in report.errors.items()) or "none")
    summary.add_row("seed", str(report.seed))
    summary.add_row("elapsed", f"{report.elapsed_seconds:.1f} s")
    summary.add_row("written to", str(out.resolve()))
    console.print(summary)
