"""Differentially private synthesis: MST (McKenna, Sheldon, Miklau 2021) on OpenDP primitives.

Why not OpenDP's own ``dp.mbi.MST``: OpenDP 0.16 ships it, but only behind its Polars context,
which pins ``polars==1.36.1`` (pseudolink's environment has Polars 2) and needs ``mbi``/JAX;
``smartnoise-synth`` pins ``opendp<0.15``. So the three MST steps are built here from OpenDP
measurements, each one's privacy map checked against its share of epsilon:

1. measure every column's one-way counts (Laplace on integer counts, 10% of epsilon);
2. select ``columns - 1`` pairs forming a spanning tree, greedily, each by OpenDP's
   report-noisy-max over how badly independence explains each unconnected pair (10%);
3. measure the selected pairs' two-way counts (80%).
Sampling walks the tree: the root from its noisy margin, each child from its noisy
conditional given the parent. Steps after measurement are post-processing: no privacy cost.

Privacy: pure epsilon-DP under adding or removing one *person*, by sequential composition of
the measurements; ``epsilon_spent`` is the sum of their OpenDP privacy maps at the input
distance ``rows_per_person``. Each person (``persons``, e.g. ``link_id``) keeps at most that
many of their rows, chosen at random without looking at their values, so a person with 100
rows of a rare level moves every count by at most the bound the noise is scaled for. Without
``persons`` each row is taken to be a different person: the caller vouches for it.
No domain is read from the data (see ``domains.py``):
categories and ranges are declared, or discovered with a share of epsilon (``DISCOVERY``)
spent before the three steps; ``DPSynthesis.domains`` says which, column by column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np
import opendp.domains
import opendp.measurements
import opendp.measures
import opendp.metrics
import opendp.mod
import pandas as pd

from anonymize.dp import count_measurement
from anonymize.errors import AnonymizeError
from anonymize.synth.domains import (
    MAX_DIRECT_LEVELS,
    RANGE_QUANTILES,
    NumericRange,
    range_grid,
)

Progress = Callable[[str, int, int | None], None]

SPLIT = (0.1, 0.1, 0.8)  # one-way, selection, two-way
#: Share of epsilon spent discovering domains, when any column needs it; a candidate list
#: (thousands of cells, each needing a count above the noise) weighs more than a range.
DISCOVERY = 0.15
DISCOVERY_WEIGHTS = {"candidates": 4.0, "range": 1.0}
NUMERIC_BINS = 16
#: An integer range this narrow is modelled as one level per value (household size).
MAX_INTEGER_LEVELS = 32


@dataclass
class _Attribute:
    name: str
    labels: list  # categorical levels, or numeric bins as (low, high) / point mass value
    numeric: bool
    decimals: int = 0
    dtype: object = None
    #: Declared or discovered bounds: values beyond are clamped to them, not dropped.
    clip: tuple[float, float] | None = None

    def encode(self, series: pd.Series) -> np.ndarray:
        if not self.numeric:
            if self.clip is not None:
                series = series.clip(*self.clip)
            lookup = {label: i for i, label in enumerate(self.labels)}
            return np.array([lookup.get(v, -1) for v in series.astype(object)], dtype=np.int64)
        values = series.to_numpy(dtype=float)
        if self.clip is not None:
            values = np.where(self._is_mass(values), values, np.clip(values, *self.clip))
        codes = np.full(len(values), -1, dtype=np.int64)
        for i, label in enumerate(self.labels):
            if isinstance(label, tuple):
                low, high = label
                inside = (values >= low) & ((values < high) | (i == len(self.labels) - 1)
                                            & (values <= high))
                codes[(codes == -1) & inside & ~self._is_mass(values)] = i
            else:
                codes[values == label] = i
        return codes

    def _is_mass(self, values: np.ndarray) -> np.ndarray:
        masses = [label for label in self.labels if not isinstance(label, tuple)]
        return np.isin(values, masses)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        if not self.numeric:
            out = pd.Series(np.array(self.labels, dtype=object)[codes], name=self.name)
            return out.astype(self.dtype) if pd.api.types.is_numeric_dtype(self.dtype) else out
        values = np.empty(len(codes))
        for i, label in enumerate(self.labels):
            at = codes == i
            if isinstance(label, tuple):
                values[at] = rng.uniform(label[0], label[1], at.sum())
            else:
                values[at] = label
        series = pd.Series(values.round(self.decimals), name=self.name)
        return series.astype(self.dtype) if pd.api.types.is_integer_dtype(self.dtype) else series


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
    mechanism: str = ("MST (pure epsilon-DP per person: Laplace counts, report-noisy-max "
                      "selection)")

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
    ``MAX_DIRECT_LEVELS``, are discovered with ``DISCOVERY`` of epsilon; an undeclared
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
    eps_discovery = epsilon * DISCOVERY if discover else 0.0
    weights = {c: DISCOVERY_WEIGHTS["range" if c not in declared else "candidates"]
               for c in discover}
    spent = 0.0
    attrs, sources = [], {}
    for col in df.columns:
        share = eps_discovery * weights[col] / sum(weights.values()) if col in discover else 0.0
        attr, used, source = _attribute(df[col], declared.get(col), share, bound)
        attrs.append(attr)
        sources[str(col)] = source
        spent += used
    codes = np.column_stack([a.encode(df[a.name]) for a in attrs])
    keep = (codes >= 0).all(axis=1)  # rows outside the declared domain are not counted
    codes = codes[keep]
    sizes = [len(a.labels) for a in attrs]
    k = len(attrs)
    eps_one, eps_select, eps_two = ((epsilon - eps_discovery) * share for share in SPLIT)
    two_way_scale = (k - 1) / eps_two  # per unit of input distance

    # 1. one-way margins
    report("DP synthesis: measure", 0, k + 2 * (k - 1))
    one_way = []
    for i in range(k):
        noisy, used = _noisy_counts(codes[:, i], sizes[i], eps_one / k, bound)
        one_way.append(np.maximum(noisy, 0.0))
        spent += used
        report("DP synthesis: measure", i + 1, k + 2 * (k - 1))
    total = max(float(np.mean([m.sum() for m in one_way])), 1.0)
    margins = [m / m.sum() if m.sum() > 0 else np.full(len(m), 1 / len(m)) for m in one_way]

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
        report("DP synthesis: measure", k + step + 1, k + 2 * (k - 1))

    # 3. two-way margins of the tree's edges
    tables = {}
    for step, (i, j) in enumerate(edges):
        cells = sizes[i] * sizes[j]
        noisy, used = _noisy_counts(codes[:, i] * sizes[j] + codes[:, j], cells,
                                    eps_two / (k - 1), bound)
        spent += used
        tables[(i, j)] = np.maximum(noisy, 0.0).reshape(sizes[i], sizes[j])
        report("DP synthesis: measure", 2 * k + step, k + 2 * (k - 1))
    if spent > epsilon * (1 + 1e-9):
        raise AnonymizeError(f"DP synthesis would spend epsilon {spent} > {epsilon}")

    # Sampling: post-processing of the noisy tables.
    report("sample dp-mst", 0, rows)
    sampled = _sample_tree(k, edges, tables, margins, rows, rng)
    data = pd.DataFrame({a.name: a.decode(sampled[:, i], rng) for i, a in enumerate(attrs)})
    report("sample dp-mst", rows, rows)
    names = [a.name for a in attrs]
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


def _attribute(series: pd.Series, declared: Sequence | NumericRange | None,
               epsilon: float, bound: int) -> tuple[_Attribute, float, str]:
    """The column's levels, the epsilon spent finding them, and where they came from."""
    if declared is None:
        low, high, used = _discover_range(series, epsilon, bound)
        return _numeric(series, NumericRange(low, high)), used, "range discovered with DP"
    if isinstance(declared, NumericRange):
        return _numeric(series, declared), 0.0, "declared range"
    levels = list(declared)
    if len(levels) <= MAX_DIRECT_LEVELS:
        return (_Attribute(series.name, levels, numeric=False, dtype=series.dtype), 0.0,
                "declared categories")
    kept, used = _discover_levels(series, levels, epsilon, bound)
    return (_Attribute(series.name, kept, numeric=False, dtype=series.dtype), used,
            f"declared candidates ({len(levels)}), kept by DP counts ({len(kept)})")


def _numeric(series: pd.Series, domain: NumericRange) -> _Attribute:
    integer = pd.api.types.is_integer_dtype(series)
    low, high = float(domain.low), float(domain.high)
    if integer:
        low, high = float(np.ceil(low)), float(np.floor(high))
        if high - low + 1 <= MAX_INTEGER_LEVELS:
            levels = list(range(int(low), int(high) + 1))
            return _Attribute(series.name, levels, numeric=False, dtype=series.dtype,
                              clip=(low, high))
    masses = sorted(float(m) for m in domain.masses)
    edges = np.linspace(low, high, NUMERIC_BINS + 1)
    bins = [(float(a), float(b)) for a, b in pairwise(edges)] if high > low else [(low, high)]
    return _Attribute(series.name, masses + bins, numeric=True,
                      decimals=0 if integer else domain.decimals, dtype=series.dtype,
                      clip=(low, high))


def _discover_range(series: pd.Series, epsilon: float,
                    bound: int = 1) -> tuple[float, float, float]:
    """Two quantiles chosen by report-noisy-max over the fixed :func:`range_grid`.

    A candidate's score ``-|(1-q) * below - q * above|`` moves by at most 1 when one row is
    added or removed, so by ``bound`` for a person: the sensitivity ``_noisy_max`` is given.
    """
    grid = range_grid()
    values = np.sort(series.dropna().to_numpy(dtype=float))
    below = np.searchsorted(values, grid, side="left").astype(float)
    above = len(values) - np.searchsorted(values, grid, side="right").astype(float)
    ends, used = [], 0.0
    for q in RANGE_QUANTILES:
        scores = -np.abs((1 - q) * below - q * above)
        choice, spent = _noisy_max(scores.tolist(), epsilon / len(RANGE_QUANTILES), None,
                                   bound)
        ends.append(float(grid[choice]))
        used += spent
    low, high = sorted(ends)
    if high == low:
        high = float(grid[min(np.searchsorted(grid, low) + 1, len(grid) - 1)])
    return low, high, used


def _discover_levels(series: pd.Series, candidates: list, epsilon: float,
                     bound: int = 1) -> tuple[list, float]:
    """The candidates whose Laplace-noised count clears a data-independent threshold.

    The threshold, ln(|C| / 0.5) noise scales, lets about half a candidate nobody holds
    through on average; post-processing of the noisy counts, so it costs nothing more.
    """
    lookup = {label: i for i, label in enumerate(candidates)}
    codes = np.array([lookup.get(v, -1) for v in series.astype(object)], dtype=np.int64)
    noisy, used = _noisy_counts(codes[codes >= 0], len(candidates), epsilon, bound)
    threshold = bound * np.log(len(candidates) / 0.5) / epsilon
    kept = np.flatnonzero(noisy >= threshold)
    if len(kept) == 0:
        kept = np.array([int(np.argmax(noisy))])
    return [candidates[i] for i in kept], used


def _noisy_counts(codes: np.ndarray, cells: int, epsilon: float,
                  bound: int = 1) -> tuple[np.ndarray, float]:
    measurement, _ = count_measurement(cells, bound, epsilon)
    # A contiguous int64 array crosses into OpenDP as one buffer; a Python list is checked
    # element by element (seconds per margin at 100,000 rows). Same measurement either way.
    noisy = np.asarray(measurement(np.ascontiguousarray(codes, dtype=np.int64)), dtype=float)
    return noisy, float(measurement.map(bound))


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


def _sample_tree(k: int, edges: list[tuple[int, int]], tables: dict, margins: list[np.ndarray],
                 rows: int, rng: np.random.Generator) -> np.ndarray:
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {i: [] for i in range(k)}
    for (i, j), table in tables.items():
        neighbours[i].append((j, table))  # rows: i, columns: j
        neighbours[j].append((i, table.T))
    out = np.full((rows, k), -1, dtype=np.int64)
    root = max(range(k), key=lambda i: len(neighbours[i]))
    start = sum(t.sum(axis=0) if j == root else t.sum(axis=1)
                for (i, j), t in tables.items() if root in (i, j)) + 0.0
    out[:, root] = _draw(rows, start if np.sum(start) > 0 else margins[root], rng)
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
