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

Privacy: pure epsilon-DP under adding or removing one row (one person in combined data, where
``link_id`` is unique), by sequential composition of the measurements; ``epsilon_spent`` is
the sum of their OpenDP privacy maps. The column domains (category lists, numeric ranges and
point masses) are taken as public knowledge, as in MST: pass them in ``domains`` when they
must not come from the data; the result lists the columns whose domain came from the data.
"""

from __future__ import annotations

from collections.abc import Callable
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
from anonymize.synth.cart import _decimals, _is_categorical

Progress = Callable[[str, int, int | None], None]

SPLIT = (0.1, 0.1, 0.8)  # one-way, selection, two-way
NUMERIC_BINS = 16
POINT_MASS_SHARE = 0.05


@dataclass
class _Attribute:
    name: str
    labels: list  # categorical levels, or numeric bins as (low, high) / point mass value
    numeric: bool
    decimals: int = 0
    dtype: object = None

    def encode(self, series: pd.Series) -> np.ndarray:
        if not self.numeric:
            lookup = {label: i for i, label in enumerate(self.labels)}
            return np.array([lookup.get(v, -1) for v in series.astype(object)], dtype=np.int64)
        values = series.to_numpy(dtype=float)
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
    domain_from_data: list[str] = field(default_factory=list)
    mechanism: str = "MST (pure epsilon-DP: Laplace counts, report-noisy-max selection)"


def dp_mst(df: pd.DataFrame, rows: int, *, epsilon: float, seed: int = 0,
           domains: dict[str, list] | None = None,
           progress: Progress | None = None) -> DPSynthesis:
    """Fit MST on ``df`` with privacy loss ``epsilon`` and sample ``rows`` rows."""
    report = progress or (lambda stage, done, total: None)
    if not epsilon > 0:
        raise AnonymizeError(f"epsilon must be positive, got {epsilon}")
    if df.shape[1] < 2:
        raise AnonymizeError("DP synthesis needs at least two columns")
    rng = np.random.default_rng(seed)
    attrs = [_attribute(df[col], (domains or {}).get(col)) for col in df.columns]
    codes = np.column_stack([a.encode(df[a.name]) for a in attrs])
    keep = (codes >= 0).all(axis=1)  # rows outside the declared domain are not counted
    codes = codes[keep]
    sizes = [len(a.labels) for a in attrs]
    k = len(attrs)
    eps_one, eps_select, eps_two = (epsilon * share for share in SPLIT)
    spent = 0.0
    two_way_scale = (k - 1) / eps_two

    # 1. one-way margins
    report("DP synthesis: measure", 0, k + 2 * (k - 1))
    one_way = []
    for i in range(k):
        noisy, used = _noisy_counts(codes[:, i], sizes[i], eps_one / k)
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
        # bring (expected |Laplace| = scale per cell); a data-independent shift, sensitivity 1.
        scores = [_independence_error(codes, i, j, sizes, margins, total)
                  - two_way_scale * sizes[i] * sizes[j] for i, j in open_pairs]
        choice, used = _noisy_max(scores, eps_select / (k - 1), rng)
        spent += used
        i, j = open_pairs[choice]
        edges.append((i, j))
        parent[root(i)] = root(j)
        report("DP synthesis: measure", k + step + 1, k + 2 * (k - 1))

    # 3. two-way margins of the tree's edges
    tables = {}
    for step, (i, j) in enumerate(edges):
        cells = sizes[i] * sizes[j]
        noisy, used = _noisy_counts(codes[:, i] * sizes[j] + codes[:, j], cells, eps_two / (k - 1))
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
        domain_from_data=[a.name for a in attrs if a.name not in (domains or {})],
    )


def _attribute(series: pd.Series, declared: list | None) -> _Attribute:
    if declared is not None:
        return _Attribute(series.name, list(declared), numeric=False, dtype=series.dtype)
    if _is_categorical(series):
        levels = sorted(series.dropna().unique().tolist(), key=str)
        return _Attribute(series.name, levels, numeric=False, dtype=series.dtype)
    values = series.dropna().to_numpy(dtype=float)
    shares = series.value_counts(normalize=True)
    masses = sorted(float(v) for v in shares[shares >= POINT_MASS_SHARE].index)
    rest = values[~np.isin(values, masses)]
    low, high = (float(rest.min()), float(rest.max())) if len(rest) else (0.0, 0.0)
    edges = np.linspace(low, high, NUMERIC_BINS + 1)
    bins = [(float(a), float(b)) for a, b in pairwise(edges)] if len(
        rest) else []
    return _Attribute(series.name, masses + bins, numeric=True, decimals=_decimals(series),
                      dtype=series.dtype)


def _noisy_counts(codes: np.ndarray, cells: int, epsilon: float) -> tuple[np.ndarray, float]:
    measurement, _ = count_measurement(cells, 1, epsilon)
    # A contiguous int64 array crosses into OpenDP as one buffer; a Python list is checked
    # element by element (seconds per margin at 100,000 rows). Same measurement either way.
    noisy = np.asarray(measurement(np.ascontiguousarray(codes, dtype=np.int64)), dtype=float)
    return noisy, float(measurement.map(1))


def _independence_error(codes: np.ndarray, i: int, j: int, sizes: list[int],
                        margins: list[np.ndarray], total: float) -> float:
    """L1 distance of the exact pair counts from what the noisy margins predict (sens. 1)."""
    exact = np.bincount(codes[:, i] * sizes[j] + codes[:, j],
                        minlength=sizes[i] * sizes[j]).astype(float)
    predicted = np.outer(margins[i], margins[j]).ravel() * total
    return float(np.abs(exact - predicted).sum())


def _noisy_max(scores: list[float], epsilon: float,
               rng: np.random.Generator) -> tuple[int, float]:
    domain = opendp.domains.vector_domain(opendp.domains.atom_domain(T=float, nan=False))
    metric = opendp.metrics.linf_distance(T=float, monotonic=False)

    def make(scale: float) -> opendp.mod.Measurement:
        return opendp.measurements.make_noisy_max(domain, metric,
                                                  opendp.measures.max_divergence(), scale)

    scale = opendp.mod.binary_search_param(make, d_in=1.0, d_out=epsilon)
    measurement = make(scale)
    return int(measurement([float(s) for s in scores])), float(measurement.map(1.0))


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
