"""``pseudolink anonymize``: the least-loss generalisation of a file that meets k (l, t).

Writes the anonymised table (Parquet or CSV, by the extension of ``--out``) and a JSON report
beside it (``OUT.report.json``), both through a temporary name renamed when complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import app, console, fail
from pseudolink.cli.risk import read_table, split_columns


def parse_hierarchies(values: list[str] | None) -> dict[str, str]:
    """``col=kind[:arg]`` options as a dict.

    >>> parse_hierarchies(["ssis__sigungu=sigungu:ssis__sido", "age=age"])
    {'ssis__sigungu': 'sigungu:ssis__sido', 'age': 'age'}
    """
    out = {}
    for value in values or []:
        col, sep, kind = value.partition("=")
        if not sep or not col.strip() or not kind.strip():
            raise ValueError(f"--hierarchy {value!r} is not COLUMN=KIND")
        out[col.strip()] = kind.strip()
    return out


def report_path(out: Path) -> Path:
    """``release.parquet`` -> ``release.report.json``."""
    return out.with_name(out.stem + ".report.json")


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@app.command("anonymize")
def anonymize_command(
    input: Annotated[Path, typer.Option("--input", help="Data file (.parquet or .csv).")],
    qi: Annotated[list[str], typer.Option(
        help="Quasi-identifier columns: comma-separated and/or repeated.")],
    out: Annotated[Path, typer.Option("--out", help="Anonymised file (.parquet or .csv).")],
    k: Annotated[int, typer.Option("--k", help="Smallest equivalence class allowed.")] = 5,
    sensitive: Annotated[list[str] | None, typer.Option(
        help="Sensitive column(s) for l-diversity and t-closeness.")] = None,
    l_target: Annotated[int | None, typer.Option(
        "--l", help="Distinct l-diversity of every sensitive column.")] = None,
    t_target: Annotated[float | None, typer.Option(
        "--t", help="t-closeness (EMD) of every sensitive column.")] = None,
    max_suppression: Annotated[float, typer.Option(
        help="Share of records that may be suppressed (0.05 = 5%).")] = 0.0,
    hierarchy: Annotated[list[str] | None, typer.Option(
        help="COLUMN=KIND[:ARG] (kinds: emd, sigungu[:SIDO_COL], sido, age, birth_year[:YEAR], "
             "date, income[:TOP], category); others are inferred from column names.")] = None,
    objective: Annotated[str, typer.Option(
        help="Loss to minimise: precision, discernibility, avg_class_size, "
             "non_uniform_entropy.")] = "precision",
    encoding: Annotated[str | None, typer.Option(
        help="CSV encoding (default: detect UTF-8 or CP949).")] = None,
) -> None:
    """Generalise and suppress the least needed to meet k (and l, t); report what was done."""
    import anonymize
    import linkage
    from pseudolink.cli.progress import progress_bars

    qi_cols, sensitive_cols = split_columns(qi), split_columns(sensitive)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise fail(f"{out}: the output must end in .parquet or .csv")
    try:
        hierarchies = parse_hierarchies(hierarchy)
        frame = read_table(input, encoding, sensitive_cols)
        with progress_bars() as progress:
            result = anonymize.anonymise(
                frame, qi_cols, k=k, sensitive=sensitive_cols or None, l=l_target, t=t_target,
                max_suppression=max_suppression, hierarchies=hierarchies,
                objective=objective, progress=progress)
    except ValueError as exc:
        raise fail(str(exc)) from None
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    except anonymize.AnonymizeError as exc:
        raise fail(f"{input}: {exc}") from None

    out.parent.mkdir(parents=True, exist_ok=True)
    data = result.data
    if out.suffix.lower() == ".csv":
        _write_atomic(out, lambda p: data.to_csv(p, index=False, encoding="utf-8"))
    else:
        _write_atomic(out, lambda p: data.to_parquet(p, index=False))
    report = {"input": str(input), "output": str(out), **result.report.to_dict()}
    _write_atomic(report_path(out), lambda p: p.write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"))
    console.print(anonymize.anonymisation_summary(result.report), highlight=False)
    console.print(f"wrote {out} and {report_path(out)}", highlight=False)
