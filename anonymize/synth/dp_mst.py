"""Differentially private synthesis: MST (McKenna, Sheldon, Miklau 2021) on OpenDP primitives.

Why not OpenDP's own ``dp.mbi.MST``: OpenDP 0.16 ships it, but only behind its Polars context,
which pins ``polars==1.36.1`` (pseudolink's environment has Polars 2) and needs ``mbi``/JAX;
``smartnoise-synth`` pins ``opendp<0.15``. So the three MST steps are built here from OpenDP
measurements, each one's privacy map checked against its share of epsilon:

1. measure every column's fine one-way counts (Laplace on integer counts, 25% of epsilon):
   one cell per category or integer, equal-width sub-cells of the range (``dp_columns.py``);
   the noisy counts cut a numeric column into at most 16 levels of about equal mass;
2. select ``columns - 1`` pairs of levels forming a spanning tree, greedily, each by
   OpenDP's report-noisy-max over how badly independence explains each unconnected pair (10%);
3. measure the selected pairs' two-way counts over the levels (65%).
Sampling walks the tree: the root from its noisy margin, each child from its noisy
conditional given the parent; then each level becomes a fine cell drawn by its noisy count
and a value inside it. Steps after measurement are post-processing: no privacy cost.

Privacy: pure epsilon-DP under adding or removing one *person*, by sequential composition of
the measurements; ``epsilon_spent`` is the sum of their OpenDP privacy maps at the input
distance ``rows_per_person``. Each person (``persons``, e.g. ``link_id``) keeps at most that
many of their rows, chosen at random without looking at their values, so a person with 100
rows of a rare level moves every count by at most the bound the noise is scaled for. Without
``persons`` each row is taken to be a different person: the caller vouches for it.
No domain is read from the data (see ``domains.py``):
categories and ranges are declared, or discovered with a share of epsilon (``DISCOVERY``)
spent before the three steps (a number's range: the power-of-two bands whose noisy count
clears a threshold); ``DPSynthesis.domains`` says which, column by column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import opendp.domains
import opendp.measurements
import opendp.measures
import opendp.metrics
import opendp.mod
import pandas as pd

from anonymize.dp import count_measurement
from anonymize.errors import AnonymizeError
from anonymize.synth.domains import MAX_DIRECT_LEVELS, NumericRange
from anonymize.synth.dp_columns import (
    ColumnModel,
    band_cells,
    band_codes,
    categorical_column,
    discovered_range,
    numeric_column,
)

Progress = Callable[[str, int, int | None], None]

SPLIT = (0.25, 0.1, 0.65)  # fine one-way, selection, two-way
#: Shares of epsilon spent discovering domains: ranges (a few hundred power-of-two bands
#: each), and candidate lists (62,500 area pairs, each needing a count above ln(125,000)
#: noise scales; the kept counts are the column's one-way margin). Each is spent only when
#: some column needs it, split evenly between those columns. The area share decides how
#: many real areas clear the threshold: at 0.13 of epsilon 180 of 250 did and 시군구 scored
#: 0.95 on SDMetrics' shape, at 0.25 about 0.98.
DISCOVERY = 0.15
CANDIDATE_DISCOVERY = 0.25
#: A numeric fine cell whose noisy count is below this many noise scales is taken as
#: empty: hundreds of empty cells would otherwise add their clipped noise (half a scale
#: each) to the shape. Categories keep every level (a rare benefit type is real, not noise).
EMPTY_CELL_SCALES = 2.0


@dataclass
class DPSynthesis:
    data: pd.DataFrame
    epsilon: float
    epsilon_spent: float
    tree: list[tuple[str, str]]
    #: Where each column's domain came from: "declared" or "discovered with DP".
    domains: dict[str, str] = field(default_factory=dict)
    epsilon_discovery: float = 0.0
    #: The input distance every measurement is calibrated to: rows one person may hold.
    rows_per_person: int = 1
    mechanism: str = ("MST (pure epsilon-DP per person: Laplace counts of fine cells and of "
                      "level pairs, report-noisy-max selection)")

    @property
    def domain_from_data(self) -> list[str]:
        """Columns whose domain was read from the data without DP: none, ever."""
        return []


def dp_mst(df: pd.DataFrame, rows: int, *, epsilon: float, seed: int = 0,
           domains: dict[str, Sequence | NumericRange] | None = None,
           progress: Progress | None = None, persons: pd.Series | None = None,
           rows_per_person: int = 1) -> DPSynthesis:
    """Fit MST on ``df`` with privacy loss ``epsilon`` per person and sample ``rows`` rows.

    ``persons`` names each row's person (aligned with ``df``); at most ``rows_per_person`` of
    a person's rows are kept, and every measurement is calibrated to that many rows.

    ``domains`` declares columns' categories (a list) or ranges (:class:`NumericRange`);
    an undeclared numeric column's range, and a declared list longer than
    ``MAX_DIRECT_LEVELS``, are discovered with ``DISCOVERY`` and ``CANDIDATE_DISCOVERY`` of
    epsilon; an undeclared
    text column is refused.
    """
    report = progress or (lambda stage, done, total: None)
    if not epsilon > 0:
        raise AnonymizeError(f"epsilon must be positive, got {epsilon}")
    if df.shape[1] < 2:
        raise AnonymizeError("DP synthesis needs at least two columns")
    if isinstance(rows_per_person, bool) or not isinstance(rows_per_person, int) \
            or rows_per_person < 1:
        raise AnonymizeError(f"rows_per_person must be a whole number >= 1, got "
                             f"{rows_per_person!r}")
    rng = np.random.default_rng(seed)
    df = bound_rows_per_person(df, persons, rows_per_person, rng)
    bound = rows_per_person
    declared = dict(domains or {})
    undeclared_text = [c for c in df.columns if c not in declared
                       and not _is_number(df[c])]
    if undeclared_text:
        raise AnonymizeError(
            f"DP synthesis needs the categories of {', '.join(map(str, undeclared_text))} "
            "declared: pure epsilon-DP cannot discover unknown labels, and reading them "
            "from the data would disclose them")
    discover = [c for c in df.columns if c not in declared
                or (not isinstance(declared[c], NumericRange)
                    and len(declared[c]) > MAX_DIRECT_LEVELS)]
    ranges = [c for c in discover if c not in declared]
    lists = [c for c in discover if c in declared]
    shares = {**{c: epsilon * DISCOVERY / len(ranges) for c in ranges},
              **{c: epsilon * CANDIDATE_DISCOVERY / len(lists) for c in lists}}
    eps_discovery = sum(shares.values())
    spent = 0.0
    models, sources = [], {}
    for col in df.columns:
        share = shares.get(col, 0.0)
        model, used, source = _column(df[col], declared.get(col), share, bound)
        models.append(model)
        sources[str(col)] = source
        spent += used
    fine = np.column_stack([m.encode(df[m.name]) for m in models])
    keep = (fine >= 0).all(axis=1)  # rows outside the declared domain are not counted
    fine = fine[keep]
    k = len(models)
    to_measure = [i for i in range(k) if not len(models[i].levels_of)]
    split = np.array(SPLIT) * ([1.0, 1.0, 1.0] if to_measure else [0.0, 1.0, 1.0])
    # A hair under what is left, so that the float sum of the privacy maps stays within it.
    eps_one, eps_select, eps_two = (epsilon - eps_discovery) * (1 - 1e-9) * split / split.sum()
    steps = len(to_measure) + 2 * (k - 1)

    # 1. fine one-way counts, cut into levels
    report("DP synthesis: measure", 0, steps)
    for done, i in enumerate(to_measure):
        model = models[i]
        noisy, used, scale = _noisy_counts(fine[:, i], len(model.cells),
                                           eps_one / len(to_measure), bound)
        if model.numeric:
            noisy = _without_empty_cells(noisy, scale)
        model.group(noisy)
        model.noise_scale = scale
        spent += used
        report("DP synthesis: measure", done + 1, steps)
    codes = np.column_stack([models[i].levels_of[fine[:, i]] for i in range(k)])
    sizes = [m.levels for m in models]
    one_way = [m.level_counts() for m in models]
    total = max(float(np.mean([m.sum() for m in one_way])), 1.0)
    margins = [m / m.sum() if m.sum() > 0 else np.full(len(m), 1 / len(m)) for m in one_way]
    two_way_scale = (k - 1) / eps_two  # per unit of input distance
    measured = len(to_measure)

    # 2. spanning tree by noisy max over independence errors
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges: list[tuple[int, int]] = []
    pairs = list(combinations(range(k), 2))
    for step in range(k - 1):
        open_pairs = [(i, j) for i, j in pairs if root(i) != root(j)]
        # As in AIM: a pair is worth measuring only by what it gains over the noise it would
        # bring (expected |Laplace| = scale per cell); a data-independent shift. A person
        # moves the exact pair counts, so the score, by at most ``bound``.
        scores = [_independence_error(codes, i, j, sizes, margins, total)
                  - two_way_scale * bound * sizes[i] * sizes[j] for i, j in open_pairs]
        choice, used = _noisy_max(scores, eps_select / (k - 1), rng, bound)
        spent += used
        i, j = open_pairs[choice]
        edges.append((i, j))
        parent[root(i)] = root(j)
        report("DP synthesis: measure", measured + step + 1, steps)

    # 3. two-way margins of the tree's edges
    raw, scales = {}, {}
    for step, (i, j) in enumerate(edges):
        cells = sizes[i] * sizes[j]
        noisy, used, scales[(i, j)] = _noisy_counts(codes[:, i] * sizes[j] + codes[:, j],
                                                    cells, eps_two / (k - 1), bound)
        spent += used
        raw[(i, j)] = noisy.reshape(sizes[i], sizes[j])
        report("DP synthesis: measure", measured + k + step, steps)
    if spent > epsilon * (1 + 1e-9):
        raise AnonymizeError(f"DP synthesis would spend epsilon {spent} > {epsilon}")
    margins = [_pooled_margin(i, models[i], raw, scales) for i in range(k)]
    tables = {(i, j): consistent_table(table, margins[i], margins[j], scales[(i, j)])
              for (i, j), table in raw.items()}

    # Sampling: post-processing of the noisy tables.
    report("sample dp-mst", 0, rows)
    sampled = _sample_tree(k, edges, tables, margins, rows, rng)
    data = pd.DataFrame({m.name: m.decode(sampled[:, i], rng) for i, m in enumerate(models)})
    report("sample dp-mst", rows, rows)
    names = [m.name for m in models]
    return DPSynthesis(
        data=data, epsilon=epsilon, epsilon_spent=spent,
        tree=[(names[i], names[j]) for i, j in edges],
        domains=sources, epsilon_discovery=eps_discovery, rows_per_person=bound,
    )


def bound_rows_per_person(df: pd.DataFrame, persons: pd.Series | None, bound: int,
                          rng: np.random.Generator) -> pd.DataFrame:
    """At most ``bound`` rows per person, picked at random (never by their values).

    >>> df = pd.DataFrame({"x": range(5)})
    >>> len(bound_rows_per_person(df, pd.Series([7, 7, 7, 8, 9]), 1, np.random.default_rng(0)))
    3
    """
    if persons is None:
        return df
    if len(persons) != len(df):
        raise AnonymizeError(f"persons has {len(persons)} entries for {len(df)} rows")
    if persons.isna().any():
        raise AnonymizeError(f"{int(persons.isna().sum())} rows have no person key: a row "
                             "nobody owns cannot be bounded per person")
    order = rng.permutation(len(df))
    shuffled = pd.Series(np.asarray(persons)[order])
    keep = np.sort(order[(shuffled.groupby(shuffled, sort=False).cumcount() < bound)
                         .to_numpy()])
    return df.iloc[keep].reset_index(drop=True)


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _column(series: pd.Series, declared: Sequence | NumericRange | None,
            epsilon: float, bound: int) -> tuple[ColumnModel, float, str]:
    """The column's fine cells, the epsilon spent finding them, and where they came from.

    A candidate list cut by DP counts comes back already grouped: those counts are its
    one-way measurement.
    """
    if declared is None:
        low, high, bands, used = _discover_bands(series, epsilon, bound)
        return (numeric_column(series, low, high, bands=bands), used,
                "range discovered with DP")
    if isinstance(declared, NumericRange):
        return (numeric_column(series, declared.low, declared.high, masses=declared.masses,
                               decimals=declared.decimals), 0.0, "declared range")
    levels = list(declared)
    if len(levels) <= MAX_DIRECT_LEVELS:
        return categorical_column(series, levels), 0.0, "declared categories"
    kept, counts, used, scale = _discover_levels(series, levels, epsilon, bound)
    model = categorical_column(series, kept)
    model.group(counts)
    model.noise_scale = scale
    return (model, used,
            f"declared candidates ({len(levels)}), kept by DP counts ({len(kept)})")


def _without_empty_cells(noisy: np.ndarray, scale: float) -> np.ndarray:
    """Noisy fine counts with cells below ``EMPTY_CELL_SCALES`` noise scales zeroed.

    Not a wider cut: SDMetrics compares pairs over ten equal-width bins between each
    table's own extremes, so a support trimmed to cells far above the noise (the largest
    floor areas) shrank the synthetic range and scored the use x floor-area pair 0.3, and
    trimming the ends to neighbouring pairs of cells above it cost 0.01 of quality.

    >>> _without_empty_cells(np.array([3.0, 0.5, 40.0, 1.5]), 1.0).tolist()
    [3.0, 0.0, 40.0, 0.0]
    """
    return np.where(noisy >= EMPTY_CELL_SCALES * scale, noisy, 0.0)


def _discover_bands(series: pd.Series, epsilon: float,
                    bound: int = 1) -> tuple[float, float, list[tuple[float, float]], float]:
    """A number's range: the power-of-two bands whose Laplace-noised count clears
    ln(|bands| / 0.5) noise scales (about half a spurious band in expectation), from the
    lowest such band to the highest; values beyond are clamped into it."""
    cells = band_cells()
    noisy, used, scale = _noisy_counts(band_codes(series), len(cells), epsilon, bound)
    low, high, bands = discovered_range(noisy, scale * np.log(len(cells) / 0.5))
    return low, high, bands, used


def _discover_levels(series: pd.Series, candidates: list, epsilon: float,
                     bound: int = 1) -> tuple[list, np.ndarray, float, float]:
    """The candidates whose Laplace-noised count clears a data-independent threshold, and
    those noisy counts.

    The threshold, ln(|C| / 0.5) noise scales, lets about half a candidate nobody holds
    through on average; post-processing of the noisy counts, so it costs nothing more.
    """
    lookup = {label: i for i, label in enumerate(candidates)}
    codes = np.array([lookup.get(v, -1) for v in series.astype(object)], dtype=np.int64)
    noisy, used, scale = _noisy_counts(codes[codes >= 0], len(candidates), epsilon, bound)
    kept = np.flatnonzero(noisy >= scale * np.log(len(candidates) / 0.5))
    if len(kept) == 0:
        kept = np.array([int(np.argmax(noisy))])
    return [candidates[i] for i in kept], noisy[kept], used, scale


def _noisy_counts(codes: np.ndarray, cells: int, epsilon: float,
                  bound: int = 1) -> tuple[np.ndarray, float, float]:
    """Laplace-noised counts per cell, the epsilon their privacy map gives, the noise scale."""
    measurement, scale = count_measurement(cells, bound, epsilon)
    # A contiguous int64 array crosses into OpenDP as one buffer; a Python list is checked
    # element by element (seconds per margin at 100,000 rows). Same measurement either way.
    noisy = np.asarray(measurement(np.ascontiguousarray(codes, dtype=np.int64)), dtype=float)
    return noisy, float(measurement.map(bound)), scale


def _independence_error(codes: np.ndarray, i: int, j: int, sizes: list[int],
                        margins: list[np.ndarray], total: float) -> float:
    """L1 distance of the exact pair counts from what the noisy margins predict (1 per row)."""
    exact = np.bincount(codes[:, i] * sizes[j] + codes[:, j],
                        minlength=sizes[i] * sizes[j]).astype(float)
    predicted = np.outer(margins[i], margins[j]).ravel() * total
    return float(np.abs(exact - predicted).sum())


def _noisy_max(scores: list[float], epsilon: float,
               rng: np.random.Generator | None, bound: int = 1) -> tuple[int, float]:
    domain = opendp.domains.vector_domain(opendp.domains.atom_domain(T=float, nan=False))
    metric = opendp.metrics.linf_distance(T=float, monotonic=False)

    def make(scale: float) -> opendp.mod.Measurement:
        return opendp.measurements.make_noisy_max(domain, metric,
                                                  opendp.measures.max_divergence(), scale)

    scale = opendp.mod.binary_search_param(make, d_in=float(bound), d_out=epsilon)
    measurement = make(scale)
    return (int(measurement([float(s) for s in scores])),
            float(measurement.map(float(bound))))


def _pooled_margin(i: int, model: ColumnModel, tables: dict, scales: dict) -> np.ndarray:
    """A column's level proportions from every noisy measurement that holds them.

    Its one-way counts and the row sums of each pair table it is in estimate the same level
    counts with different noise; weighted by inverse variance (what a graphical-model fit
    such as Private-PGM does in closed form here), a level of one person in 400 stays near
    its true share instead of following the noisier one-way count alone.
    """
    estimates = [(model.level_counts(), model.level_variance())]
    for (a, b), table in tables.items():
        if i in (a, b):
            sums = table.sum(axis=1 if i == a else 0)
            partners = table.shape[1 if i == a else 0]
            estimates.append((sums, np.full(len(sums), 2.0 * scales[(a, b)] ** 2 * partners)))
    weights = [1.0 / variance for _, variance in estimates]
    pooled = sum(e * w for (e, _), w in zip(estimates, weights, strict=True)) / sum(weights)
    pooled = np.maximum(pooled, 0.0)
    return pooled / pooled.sum() if pooled.sum() > 0 else np.full(len(pooled),
                                                                  1 / len(pooled))


def consistent_table(noisy: np.ndarray, rows: np.ndarray, columns: np.ndarray,
                     scale: float, rounds: int = 50) -> np.ndarray:
    """A non-negative pair table whose margins are the columns' own (better) noisy margins.

    Clipping a sparse table's negative noise at zero leaves its positive noise: a 250 x 16
    table at scale 18 gains about 9 fake rows per empty cell, most of them in rare areas.
    Cells below one noise scale are taken as empty, and iterative proportional fitting then
    rescales rows and columns to the one-way margins (proportions), measured on many fewer
    cells each. Post-processing of noisy counts only.

    >>> t = consistent_table(np.array([[40.0, -3.0], [10.0, 50.0]]), np.array([0.4, 0.6]),
    ...                      np.array([0.5, 0.5]), 1.0)
    >>> np.round(t / t.sum(), 3).tolist()
    [[0.4, 0.0], [0.1, 0.5]]
    """
    table = np.where(noisy > scale, noisy, 0.0)
    total = max(float(table.sum()), 1.0)
    # A row or column the noise emptied still carries its margin's mass, spread evenly.
    table = table + np.outer(rows, columns) * 1e-6 * total
    want_rows, want_columns = rows * total, columns * total
    for _ in range(rounds):
        table *= (want_rows / np.maximum(table.sum(axis=1), 1e-12))[:, None]
        table *= (want_columns / np.maximum(table.sum(axis=0), 1e-12))[None, :]
    return table


def _sample_tree(k: int, edges: list[tuple[int, int]], tables: dict, margins: list[np.ndarray],
                 rows: int, rng: np.random.Generator) -> np.ndarray:
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {i: [] for i in range(k)}
    for (i, j), table in tables.items():
        neighbours[i].append((j, table))  # rows: i, columns: j
        neighbours[j].append((i, table.T))
    out = np.full((rows, k), -1, dtype=np.int64)
    root = max(range(k), key=lambda i: len(neighbours[i]))
    out[:, root] = _draw(rows, margins[root], rng)
    queue, seen = [root], {root}
    while queue:
        node = queue.pop(0)
        for child, table in neighbours[node]:
            if child in seen:
                continue
            seen.add(child)
            queue.append(child)
            for value in np.unique(out[:, node]):
                at = np.flatnonzero(out[:, node] == value)
                weights = table[value]
                out[at, child] = _draw(len(at), weights if weights.sum() > 0
                                       else margins[child], rng)
    for i in range(k):  # a column no edge reached (only possible with one column)
        if (out[:, i] < 0).any():
            out[:, i] = _draw(rows, margins[i], rng)
    return out


def _draw(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    p = p / p.sum()
    return rng.choice(len(p), size=n, p=p)
