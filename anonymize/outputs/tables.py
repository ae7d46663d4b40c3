"""Disclosure checks for frequency and magnitude tables.

A frequency table is a data frame of counts (a crosstab), optionally with margins
labelled ``Total`` or ``All`` (pandas' ``crosstab(margins=True)``). A suppressed cell is
a missing value or a marker such as ``*``; the checks treat it as unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from anonymize.outputs.verdict import Verdict

MARGIN_LABELS = frozenset({"total", "all", "합계", "계"})


def _is_margin(label: Any) -> bool:
    return str(label).strip().lower() in MARGIN_LABELS


def split_margins(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series | None,
                                                 pd.Series | None, float | None]:
    """Inner cells, row totals, column totals and the grand total of a crosstab.

    Non-numeric cells (suppression markers) become NaN.

    >>> t = pd.DataFrame({"a": [1, 2, 3], "Total": [4, 5, 9]}, index=["x", "y", "Total"])
    >>> inner, rows, cols, grand = split_margins(t)
    >>> inner["a"].tolist(), rows.tolist(), cols.tolist(), grand
    ([1.0, 2.0], [4.0, 5.0], [3.0], 9.0)
    """
    numeric = table.apply(pd.to_numeric, errors="coerce").astype(float)
    margin_rows = [r for r in numeric.index if _is_margin(r)]
    margin_cols = [c for c in numeric.columns if _is_margin(c)]
    inner = numeric.drop(index=margin_rows, columns=margin_cols)
    row_totals = numeric.loc[inner.index, margin_cols[0]] if margin_cols else None
    col_totals = numeric.loc[margin_rows[0], inner.columns] if margin_rows else None
    grand = (float(numeric.loc[margin_rows[0], margin_cols[0]])
             if margin_rows and margin_cols else None)
    if grand is not None and np.isnan(grand):
        grand = None
    return inner, row_totals, col_totals, grand


def _cells(inner: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    found = [f"({inner.index[i]!s}, {inner.columns[j]!s})" for i, j in zip(*np.nonzero(mask),
                                                                          strict=True)]
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return ", ".join(found[:limit]) + more


def check_min_cell_count(table: pd.DataFrame, threshold: int = 10) -> Verdict:
    """Hold a table with a published count below ``threshold`` (zeros are checked apart).

    >>> check_min_cell_count(pd.DataFrame({"a": [12, 3]}, index=["x", "y"])).reason
    'cell (y, a) counts 3, fewer than 10 units'
    """
    inner, *_ = split_margins(table)
    values = inner.to_numpy()
    small = (values > 0) & (values < threshold)
    if not small.any():
        return Verdict.passed("min_cell_count", f"every published cell counts at least "
                                                f"{threshold} units")
    i, j = (int(x[0]) for x in np.nonzero(small))
    if small.sum() == 1:
        return Verdict.held("min_cell_count",
                            f"cell ({inner.index[i]}, {inner.columns[j]}) counts "
                            f"{values[i, j]:g}, fewer than {threshold} units")
    return Verdict.held("min_cell_count", f"{int(small.sum())} cells count fewer than "
                                          f"{threshold} units: {_cells(inner, small)}")


def check_zeros(table: pd.DataFrame, allowed: bool = False) -> Verdict:
    """Hold zero cells unless the custodian allows them: a zero says nobody in a group."""
    inner, *_ = split_margins(table)
    zeros = inner.to_numpy() == 0
    if not zeros.any():
        return Verdict.passed("zeros", "no zero cells")
    if allowed:
        return Verdict.passed("zeros", f"{int(zeros.sum())} zero cells, allowed by the "
                                       "custodian's settings")
    return Verdict.held("zeros", f"zero cells disclose that nobody in a group has the "
                                 f"attribute: {_cells(inner, zeros)}; suppress or merge them")


def check_margins(table: pd.DataFrame, tolerance: float = 1e-6) -> Verdict:
    """Hold a table whose suppressed cells can be derived back from its totals.

    Each published row or column total gives one linear equation over the suppressed
    cells; a suppressed cell is exposed when its value is fixed by those equations
    (its unit vector lies in their row space), e.g. the only suppressed cell of a row
    with a total. Published totals must also agree with fully published rows.

    >>> t = pd.DataFrame({"a": [20, None], "b": [30, 40], "Total": [50, 45]},
    ...                  index=["x", "y"])
    >>> check_margins(t).reason.split(";")[0]
    'suppressed cell (y, a) can be recomputed from the totals as 5'
    """
    inner, row_totals, col_totals, grand = split_margins(table)
    values = inner.to_numpy()
    unknown = np.isnan(values)
    positions = list(zip(*np.nonzero(unknown), strict=True))
    index = {pos: k for k, pos in enumerate(positions)}
    equations: list[tuple[np.ndarray, float, str]] = []

    def equation(cells: list[tuple[int, int]], total: float, label: str) -> None:
        row = np.zeros(len(positions))
        known = 0.0
        for cell in cells:
            if cell in index:
                row[index[cell]] = 1.0
            else:
                known += values[cell]
        equations.append((row, total - known, label))

    n_rows, n_cols = values.shape
    if row_totals is not None:
        for i, total in enumerate(row_totals.to_numpy()):
            if not np.isnan(total):
                equation([(i, j) for j in range(n_cols)], total, f"row {inner.index[i]}")
    if col_totals is not None:
        for j, total in enumerate(col_totals.to_numpy()):
            if not np.isnan(total):
                equation([(i, j) for i in range(n_rows)], total,
                         f"column {inner.columns[j]}")
    if grand is not None:
        equation([(i, j) for i in range(n_rows) for j in range(n_cols)], grand, "grand total")

    for row, rest, label in equations:
        if not row.any() and abs(rest) > tolerance:
            return Verdict.held("margins", f"the {label} total does not equal the sum of its "
                                           f"cells (off by {rest:g}); recompute the totals "
                                           "after suppression")
    if not positions:
        return Verdict.passed("margins", "no suppressed cells")
    if not equations:
        return Verdict.passed("margins", f"{len(positions)} suppressed cells, no totals "
                                         "published")
    matrix = np.array([row for row, _, _ in equations])
    rhs = np.array([rest for _, rest, _ in equations])
    rank = np.linalg.matrix_rank(matrix)
    exposed = []
    for k in range(len(positions)):
        unit = np.zeros(len(positions))
        unit[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank:
            exposed.append(k)
    if not exposed:
        return Verdict.passed("margins", f"{len(positions)} suppressed cells, none derivable "
                                         "from the published totals")
    solution, *_ = np.linalg.lstsq(matrix, rhs, rcond=None)
    if np.abs(matrix @ solution - rhs).max() > tolerance * max(1.0, np.abs(rhs).max()):
        return Verdict.held("margins", "the published totals contradict each other; "
                                       "recompute them after suppression")
    i, j = positions[exposed[0]]
    value = f" as {solution[exposed[0]]:g}"
    others = f" (and {len(exposed) - 1} more)" if len(exposed) > 1 else ""
    return Verdict.held("margins", f"suppressed cell ({inner.index[i]}, {inner.columns[j]}) "
                                   f"can be recomputed from the totals{value}{others}; "
                                   "suppress a second cell (secondary suppression) or drop "
                                   "the totals")


# -- magnitude tables ---------------------------------------------------------------------

Contributions = Mapping[Any, Sequence[float]]


def contributions(df: pd.DataFrame, by: Sequence[str], value: str) -> dict[Any, np.ndarray]:
    """Each cell's contributions, largest first, from microdata inside the room.

    >>> cells = contributions(pd.DataFrame({"g": ["a", "a"], "v": [1.0, 5.0]}), ["g"], "v")
    >>> cells["a"].tolist()
    [5.0, 1.0]
    """
    grouped = df.groupby(list(by) if len(by) > 1 else by[0], observed=True)[value]
    return {key: np.sort(np.abs(series.to_numpy(dtype=float)))[::-1]
            for key, series in grouped}


def check_dominance(cells: Contributions, n: int = 2, k: float = 90.0) -> Verdict:
    """(n, k) rule: hold a cell whose ``n`` largest contributors make ``k`` % of it or more
    (ACRO's comparison and default).

    >>> check_dominance({"a": [90.0, 5.0, 5.0], "b": [10.0] * 10}, n=1, k=50).reason
    'cell a: the 1 largest contributors hold 90.0% of the total (limit 50%)'
    """
    for cell, values in cells.items():
        ordered = np.sort(np.abs(np.asarray(values, dtype=float)))[::-1]
        total = ordered.sum()
        if total <= 0:
            continue
        share = 100.0 * ordered[:n].sum() / total
        if share >= k:
            return Verdict.held("dominance", f"cell {cell}: the {n} largest contributors hold "
                                             f"{share:.1f}% of the total (limit {k:g}%)")
    return Verdict.passed("dominance", f"no cell where {n} contributors hold {k:g}% or more")


def check_p_percent(cells: Contributions, p: float = 10.0) -> Verdict:
    """p % rule: hold a cell where the second largest contributor, subtracting itself from
    the total, would estimate the largest within ``p`` %.

    >>> check_p_percent({"a": [100.0, 50.0, 5.0]}, p=10).reason
    'cell a: the others than the two largest contribute 5, less than 10% of the largest'
    """
    for cell, values in cells.items():
        ordered = np.sort(np.abs(np.asarray(values, dtype=float)))[::-1]
        if len(ordered) == 0 or ordered[0] <= 0:
            continue
        remainder = ordered[2:].sum()
        if remainder < p / 100.0 * ordered[0]:
            return Verdict.held("p_percent", f"cell {cell}: the others than the two largest "
                                             f"contribute {remainder:g}, less than {p:g}% of "
                                             "the largest")
    return Verdict.passed("p_percent", f"every cell meets the {p:g}% rule")


def check_magnitude_counts(cells: Contributions, threshold: int = 10) -> Verdict:
    """A magnitude cell must also rest on at least ``threshold`` contributors."""
    for cell, values in cells.items():
        if 0 < len(values) < threshold:
            return Verdict.held("min_cell_count", f"cell {cell} rests on {len(values)} "
                                                  f"contributors, fewer than {threshold}")
    return Verdict.passed("min_cell_count", f"every cell rests on at least {threshold} "
                                            "contributors")
