"""Checks on an output file as the airlock receives it: type, size, rows, and the kinds
that only a person can judge. ``check_output_file`` runs every check a file's kind needs;
the kind is read from the content (``content.infer_kind``), and a declaration that
contradicts it is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.outputs.content import KINDS, check_declared_kind
from anonymize.outputs.magnitude import check_magnitude_table
from anonymize.outputs.microdata import check_microdata
from anonymize.outputs.models import check_residual_df
from anonymize.outputs.tables import check_margins, check_min_cell_count, check_zeros
from anonymize.outputs.thresholds import (
    FIGURE_SUFFIXES,
    MODEL_SUFFIXES,
    TABLE_SUFFIXES,
    OutputThresholds,
)
from anonymize.outputs.verdict import Verdict

__all__ = ["KINDS", "check_file_size", "check_file_type", "check_output_file",
           "check_row_count", "default_kind", "read_table"]


def default_kind(path: Path) -> str:
    """The kind a file's suffix suggests; only a hint, the checks follow the content."""
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "frequency_table"
    if suffix in MODEL_SUFFIXES:
        return "model"
    if suffix in FIGURE_SUFFIXES:
        return "figure"
    return "text"


def check_file_type(path: Path, allowed: tuple[str, ...]) -> Verdict:
    suffix = path.suffix.lower()
    if suffix in allowed:
        return Verdict.passed("file_type", f"{suffix} files may leave the room")
    return Verdict.held("file_type", f"{path.name}: {suffix or 'no suffix'} files may not "
                                     f"leave the room (allowed: {', '.join(allowed)})")


def check_file_size(path: Path, max_bytes: int) -> Verdict:
    size = path.stat().st_size
    if size <= max_bytes:
        return Verdict.passed("file_size", f"{size} bytes (limit {max_bytes})")
    return Verdict.held("file_size", f"{path.name} is {size} bytes, over the limit of "
                                     f"{max_bytes}")


def check_row_count(table: pd.DataFrame, max_rows: int) -> Verdict:
    """Hold long tables: a table with many rows is closer to microdata than to a result."""
    if len(table) <= max_rows:
        return Verdict.passed("row_count", f"{len(table)} rows (limit {max_rows})")
    return Verdict.held("row_count", f"{len(table)} rows, over the limit of {max_rows}; "
                                     "row-level data never leaves the room")


def read_table(path: Path) -> pd.DataFrame:
    """A table output with its first column as the row labels."""
    try:
        if path.suffix.lower() == ".parquet":
            table = pd.read_parquet(path)
            return table if not isinstance(table.index, pd.RangeIndex) else \
                table.set_index(table.columns[0])
        return pd.read_csv(path, index_col=0)
    except (OSError, ValueError) as exc:
        raise AnonymizeError(f"{path}: cannot read the table: {exc}") from None


def check_output_file(path: Path, thresholds: OutputThresholds | None = None,
                      kind: str | None = None) -> list[Verdict]:
    """Every check the file's kind needs; an output leaves only if all are ``ok``."""
    limits = thresholds or OutputThresholds()
    path = Path(path)
    if kind is not None and kind not in KINDS:
        raise AnonymizeError(f"{path.name}: kind {kind!r} is not one of {', '.join(KINDS)}")
    verdicts = [check_file_type(path, limits.allowed_suffixes),
                check_file_size(path, limits.max_file_bytes)]
    if not all(v.ok for v in verdicts):
        return verdicts
    kind, mislabelled = check_declared_kind(path, kind)
    if mislabelled is not None:
        verdicts.append(mislabelled)
    if kind in ("frequency_table", "magnitude_table"):
        if path.suffix.lower() not in TABLE_SUFFIXES:
            return [*verdicts, Verdict.held("file_type", f"{path.name}: a table must be CSV "
                                                         "or Parquet")]
        table = read_table(path)
        verdicts += [check_row_count(table, limits.max_rows), check_microdata(table)]
        if kind == "frequency_table":
            verdicts += [check_min_cell_count(table, limits.min_cell_count),
                         check_zeros(table, limits.zeros_allowed),
                         check_margins(table)]
        else:
            verdicts += check_magnitude_table(table, limits.min_cell_count,
                                              limits.dominance_n, limits.dominance_k,
                                              limits.p_percent)
    elif kind == "model":
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AnonymizeError(f"{path}: a model output must be a JSON summary: "
                                 f"{exc}") from None
        verdicts.append(check_residual_df(summary, limits.min_residual_df))
    elif kind == "figure":
        verdicts.append(Verdict.for_review("figure", f"{path.name}: a figure can show small "
                                                     "groups or single points; an officer "
                                                     "must look at it"))
    else:
        verdicts.append(Verdict.for_review("free_text", f"{path.name}: free text can quote "
                                                        "records; an officer must read it"))
    return verdicts
