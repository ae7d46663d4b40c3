"""``pseudolink risk``: the privacy officer's re-identification risk report for one file.

Exit codes: 0 when the report is produced (and meets ``--k`` if given), 1 when it is produced
but k is below the ``--k`` target (so scripts and CI gates can stop a release), 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import app, console, err_console, fail

if TYPE_CHECKING:  # imported when the command runs, so that `pseudolink --help` stays quick
    import pandas as pd

    import anonymize

#: Exit code when the report is fine but the table does not reach the requested k.
EXIT_TARGET_NOT_MET = 1


def split_columns(values: list[str] | None) -> list[str]:
    """Column names from repeated and/or comma-separated options.

    >>> split_columns(["age,sex", "sigungu", " "])
    ['age', 'sex', 'sigungu']
    """
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def read_table(path: Path, encoding: str | None, numeric_candidates: list[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file; in a CSV (all text), a candidate column whose every value is
    a number becomes numeric, so that t-closeness uses the ordered distance for it."""
    import pandas as pd

    import linkage

    frame = linkage.read_input(path, encoding=encoding).to_pandas()
    if path.suffix.lower() == ".parquet":
        return frame
    for col in numeric_candidates:
        if col in frame.columns:
            parsed = pd.to_numeric(frame[col], errors="coerce")
            if parsed.notna().sum() == frame[col].notna().sum():
                frame[col] = parsed
    return frame


@app.command("risk")
def risk(
    input: Annotated[Path, typer.Option("--input", help="Data file (.parquet or .csv).")],
    qi: Annotated[list[str], typer.Option(
        help="Quasi-identifier columns: comma-separated and/or repeated.")],
    sensitive: Annotated[list[str] | None, typer.Option(
        help="Sensitive column(s) for l-diversity and t-closeness.")] = None,
    k: Annotated[int | None, typer.Option(
        "--k", help="Target k: exit 1 if the data does not reach it.")] = None,
    threshold: Annotated[float, typer.Option(
        help="Highest acceptable prosecutor risk per record.")] = 0.2,
    encoding: Annotated[str | None, typer.Option(
        help="CSV encoding (default: detect UTF-8 or CP949).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure k-anonymity, l-diversity, t-closeness and prosecutor risk of a table."""
    import anonymize
    import linkage

    qi_cols, sensitive_cols = split_columns(qi), split_columns(sensitive)
    try:
        frame = read_table(input, encoding, sensitive_cols)
        report = anonymize.risk_report(frame, qi_cols, sensitive_cols or None,
                                       threshold=threshold)
    except linkage.LinkageError as exc:  # names the file itself
        raise fail(str(exc)) from None
    except anonymize.AnonymizeError as exc:
        raise fail(f"{input}: {exc}") from None

    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        console.print(_table(report))
        console.print(_smallest_classes(report))
        console.print(anonymize.summary(report), highlight=False)
    if k is not None and report.k < k:
        err_console.print(f"[bold red]k-anonymity target not met:[/] k = {report.k} < {k} "
                          f"({report.records_at_risk:,} records at risk)", highlight=False)
        raise typer.Exit(EXIT_TARGET_NOT_MET)


def _table(report: anonymize.RiskReport) -> Table:
    table = Table(title="Re-identification risk")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("records", f"{report.records:,}"),
        ("equivalence classes", f"{report.classes:,}"),
        ("k (smallest class)", str(report.k)),
        ("sample uniques", f"{report.sample_uniques:,}"),
        ("prosecutor risk, max", f"{report.prosecutor_risk_max:.4f}"),
        ("prosecutor risk, average", f"{report.prosecutor_risk_avg:.4f}"),
        (f"records at risk (> {report.threshold:g})", f"{report.records_at_risk:,}"),
    ]
    if report.l_distinct is not None:
        rows += [
            ("l (distinct)", str(report.l_distinct)),
            ("l (entropy)", f"{report.l_entropy:.3f}"),
            ("t (closeness)", f"{report.t_closeness:.4f}"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _smallest_classes(report: anonymize.RiskReport, shown: int = 8) -> Table:
    """The small end of the class-size histogram, where the risk is."""
    table = Table(title="Smallest equivalence classes")
    table.add_column("class size", justify="right")
    table.add_column("classes", justify="right")
    table.add_column("records", justify="right")
    for size, classes in sorted(report.class_sizes.items())[:shown]:
        table.add_row(str(size), f"{classes:,}", f"{size * classes:,}")
    return table
