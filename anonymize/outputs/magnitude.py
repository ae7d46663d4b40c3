"""Magnitude tables as files: totals with the evidence their disclosure rules need.

A magnitude table (income per district) discloses a person when few contribute to a cell or
one or two dominate it, whatever its label. The rules need, per cell, the number of
contributors and the largest contributions, which the airlock cannot recompute outside the
room; so the table carries them. :func:`magnitude_table` writes the table that way inside the
room; the airlock checks the evidence with ACRO's rules and defaults (threshold 10, dominance
n=2 k=90 %, p 10 %), and :func:`without_evidence` drops the largest contributions from what
leaves, since they are themselves single people's values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.outputs.verdict import Verdict

CONTRIBUTORS = "contributors"
TOTAL = "total"
ABS_TOTAL = "abs_total"
LARGEST = re.compile(r"^largest_(\d+)$")


def magnitude_table(df: pd.DataFrame, by: Sequence[str], value: str,
                    largest: int = 2) -> pd.DataFrame:
    """Totals of ``value`` per cell of ``by``, with contributor counts and the evidence.

    >>> t = magnitude_table(pd.DataFrame({"g": ["a", "a", "b"], "v": [5, 1, 7]}), ["g"], "v")
    >>> t.columns.tolist()
    ['g', 'total', 'contributors', 'largest_1', 'largest_2', 'abs_total']
    >>> t.iloc[0, 1:].astype(float).tolist()
    [6.0, 2.0, 5.0, 1.0, 6.0]
    """
    rows = []
    for key, series in df.groupby(list(by), observed=True)[value]:
        values = series.dropna().to_numpy(dtype=float)
        ordered = np.sort(np.abs(values))[::-1]
        top = np.zeros(largest)
        top[:min(largest, len(ordered))] = ordered[:largest]
        labels = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, labels, strict=True)), TOTAL: float(values.sum()),
                     CONTRIBUTORS: len(values),
                     **{f"largest_{i + 1}": float(v) for i, v in enumerate(top)},
                     ABS_TOTAL: float(ordered.sum())})
    return pd.DataFrame(rows)


def evidence_columns(columns: Sequence[object]) -> list[str]:
    """The columns that exist only for the checks and never leave the room."""
    return [str(c) for c in columns if LARGEST.match(str(c)) or str(c) == ABS_TOTAL]


def _cell(table: pd.DataFrame, i: int) -> str:
    label = table.index[i]
    parts = [str(label)] + [str(table.iloc[i][c]) for c in table.columns
                            if not pd.api.types.is_numeric_dtype(table[c])]
    return "(" + ", ".join(parts) + ")"


def check_magnitude_table(table: pd.DataFrame, threshold: int = 10, n: int = 2,
                          k: float = 90.0, p: float = 10.0) -> list[Verdict]:
    """Threshold, dominance (n, k) and p % rules on a table with its evidence columns.

    ``k`` and ``p`` are percentages. As in ACRO, a cell fails dominance when its ``n``
    largest contributions make ``k`` % or more of its total, and the p % rule when the
    contributions other than the two largest make less than ``p`` % of the largest.
    """
    largest = sorted((int(m.group(1)), c) for c in table.columns
                     if (m := LARGEST.match(str(c))))
    needed = max(n, 2)
    missing = [name for name in (CONTRIBUTORS, *[f"largest_{i}" for i in
                                                 range(1, needed + 1)])
               if name not in [str(c) for c in table.columns]]
    if TOTAL not in table.columns and ABS_TOTAL not in table.columns:
        missing.append(TOTAL)
    if missing:
        return [Verdict.held("magnitude_evidence",
                             f"a magnitude table must carry, per cell, {', '.join(missing)} "
                             "(write it with anonymize.outputs.magnitude_table inside the "
                             "room); without them the dominance and p% rules cannot run")]
    try:
        counts = table[CONTRIBUTORS].astype(float).to_numpy()
        top = np.column_stack([table[c].astype(float).to_numpy() for _, c in largest])
        total = table[ABS_TOTAL if ABS_TOTAL in table.columns else TOTAL].astype(float)
    except (TypeError, ValueError) as exc:
        raise AnonymizeError(f"magnitude table evidence is not numeric: {exc}") from None
    total = total.to_numpy()
    top = -np.sort(-np.abs(top), axis=1)
    verdicts = []

    few = np.flatnonzero((counts > 0) & (counts < threshold))
    verdicts.append(Verdict.held("min_cell_count", f"cell {_cell(table, few[0])} rests on "
                                                   f"{counts[few[0]]:g} contributors, fewer "
                                                   f"than {threshold}"
                                 + (f" (and {len(few) - 1} more cells)" if len(few) > 1
                                    else ""))
                    if len(few) else
                    Verdict.passed("min_cell_count", f"every cell rests on at least "
                                                     f"{threshold} contributors"))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, top[:, :n].sum(axis=1) / total, 0.0)
    dominated = np.flatnonzero(share >= k / 100.0)
    verdicts.append(Verdict.held("dominance", f"cell {_cell(table, dominated[0])}: the {n} "
                                              f"largest contributors hold "
                                              f"{100 * share[dominated[0]]:.1f}% of the total "
                                              f"(limit {k:g}%)")
                    if len(dominated) else
                    Verdict.passed("dominance", f"no cell where {n} contributors hold "
                                                f"{k:g}% or more"))
    remainder = total - top[:, 0] - top[:, 1]
    close = np.flatnonzero((top[:, 0] > 0) & (remainder < p / 100.0 * top[:, 0]))
    verdicts.append(Verdict.held("p_percent", f"cell {_cell(table, close[0])}: the others than "
                                              f"the two largest contribute "
                                              f"{remainder[close[0]]:g}, less than {p:g}% of "
                                              "the largest")
                    if len(close) else
                    Verdict.passed("p_percent", f"every cell meets the {p:g}% rule"))
    return verdicts


def without_evidence(source: Path, target: Path) -> Path:
    """Write ``source``'s table to ``target`` without the evidence columns (temp, rename).

    The format follows ``target``'s suffix: the airlock keeps files under their digest.
    """
    source, target = Path(source), Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".parquet":
        frame = pd.read_parquet(source)
        frame.drop(columns=evidence_columns(frame.columns)).to_parquet(tmp)
    else:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        # An unnamed first column (a written index) keeps its empty header.
        frame.columns = ["" if str(c).startswith("Unnamed: ") else c for c in frame.columns]
        frame.drop(columns=evidence_columns(frame.columns)).to_csv(tmp, index=False)
    tmp.replace(target)
    return target
