"""pseudolink's default synthesizer: sequential decision trees in the manner of synthpop.

Columns are visited in order. The first is drawn from its own distribution; every later column
gets a decision tree (CART) fitted on the columns before it, and a synthetic row takes its value
from a real donor in the leaf its synthetic predecessors fall into. Donors carry the joint
structure that a copula or a short GAN run loses (zero benefit with benefit type ``none``,
income with household size), and trees fit in seconds.

Numeric values drawn from donors are smoothed with a Gaussian kernel (per leaf, Silverman's
bandwidth), except values that are point masses of the column (zero income, a round amount
shared by many rows): smoothing those would invent values no real row has. Leaves hold at least
``min_leaf`` real rows, so no synthetic value comes from a leaf of one person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

Progress = Callable[[str, int, int | None], None]

#: A value held by at least this share of a column's rows is a point mass: never smoothed.
POINT_MASS_SHARE = 0.01
#: Columns with at most this many distinct values are treated as categories.
MAX_CATEGORY_LEVELS = 30


@dataclass
class _Column:
    name: str
    categorical: bool
    codes: np.ndarray  # per real row: category code (categorical) or value (numeric)
    levels: np.ndarray | None = None  # category labels, code order
    point_masses: np.ndarray | None = None
    decimals: int = 0
    bounds: tuple[float, float] = (0.0, 0.0)
    tree: object | None = None
    leaf_donors: dict[int, np.ndarray] | None = None
    leaf_bandwidth: dict[int, float] | None = None
    dtype: object = None


class SequentialTreeSynthesizer:
    """Fit on a frame of modelled columns, then sample any number of rows.

    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"kind": rng.choice(["a", "b"], 500),
    ...                      "amount": rng.normal(100, 10, 500).round(1)})
    >>> model = SequentialTreeSynthesizer(seed=1).fit(real)
    >>> fake = model.sample(200)
    >>> fake.shape, sorted(fake["kind"].unique())
    ((200, 2), ['a', 'b'])
    """

    def __init__(self, *, seed: int = 0, min_leaf: int = 10, max_depth: int | None = 14,
                 order: list[str] | None = None) -> None:
        self.seed = seed
        self.min_leaf = min_leaf
        self.max_depth = max_depth
        self.order = order
        self._columns: list[_Column] = []
        self._real_columns: list[str] = []

    # -- fitting ----------------------------------------------------------------------

    def fit(self, df: pd.DataFrame, progress: Progress | None = None) -> SequentialTreeSynthesizer:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        report = progress or (lambda stage, done, total: None)
        self._real_columns = list(df.columns)
        order = self.order or _visit_order(df)
        self._columns = [_describe(df[name]) for name in order]
        total = len(self._columns)
        report("fit default (columns)", 0, total)
        features = np.empty((len(df), 0))
        for i, column in enumerate(self._columns):
            if i > 0:
                cls = DecisionTreeClassifier if column.categorical else DecisionTreeRegressor
                tree = cls(min_samples_leaf=self.min_leaf, max_depth=self.max_depth,
                           random_state=self.seed)
                tree.fit(features, column.codes)
                column.tree = tree
                leaves = tree.apply(features)
            else:
                leaves = np.zeros(len(df), dtype=np.int64)
            column.leaf_donors = _group(leaves, column.codes)
            if not column.categorical:
                column.leaf_bandwidth = {leaf: _bandwidth(values, column.point_masses)
                                         for leaf, values in column.leaf_donors.items()}
            features = np.column_stack([features, column.codes.astype(float)])
            report("fit default (columns)", i + 1, total)
        return self

    # -- sampling ---------------------------------------------------------------------

    def sample(self, rows: int, *, seed: int | None = None,
               progress: Progress | None = None) -> pd.DataFrame:
        if not self._columns:
            raise RuntimeError("fit the synthesizer before sampling")
        report = progress or (lambda stage, done, total: None)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        features = np.empty((rows, 0))
        drawn: dict[str, np.ndarray] = {}
        total = len(self._columns)
        report("sample default (columns)", 0, total)
        for i, column in enumerate(self._columns):
            if column.tree is None:
                leaves = np.zeros(rows, dtype=np.int64)
            else:
                leaves = column.tree.apply(features)
            values = _draw(column, leaves, rng)
            drawn[column.name] = values
            features = np.column_stack([features, values.astype(float)])
            report("sample default (columns)", i + 1, total)
        return pd.DataFrame({name: _decode(column, drawn[column.name])
                             for column in self._columns
                             for name in [column.name]})[self._real_columns]


def _visit_order(df: pd.DataFrame) -> list[str]:
    """Categories first (fewest levels first), then numbers: coarse structure, then detail."""
    def key(name: str) -> tuple[int, int]:
        levels = df[name].nunique(dropna=False)
        categorical = _is_categorical(df[name])
        return (0 if categorical else 1, levels)

    return sorted(df.columns, key=key)


def _is_categorical(series: pd.Series) -> bool:
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        return True
    return series.nunique(dropna=False) <= MAX_CATEGORY_LEVELS and bool(
        (series.dropna() == series.dropna().round()).all())


def _describe(series: pd.Series) -> _Column:
    if _is_categorical(series):
        # Codes by descending frequency, so that a tree's threshold splits common from rare.
        counts = series.astype(object).where(series.notna(), None).value_counts(dropna=False)
        levels = np.array(counts.index.tolist(), dtype=object)
        lookup = {level: code for code, level in enumerate(levels)}
        codes = np.fromiter((lookup[v] for v in series.astype(object).where(series.notna(), None)),
                            dtype=np.int64, count=len(series))
        return _Column(series.name, True, codes, levels=levels, dtype=series.dtype)
    values = series.to_numpy(dtype=float)
    if np.isnan(values).any():
        # Missing numbers get the column's median; the share of missing is not modelled.
        values = np.where(np.isnan(values), np.nanmedian(values), values)
    shares = series.value_counts(normalize=True)
    masses = np.array(shares[shares >= POINT_MASS_SHARE].index, dtype=float)
    return _Column(series.name, False, values, point_masses=masses,
                   decimals=_decimals(series), bounds=(values.min(), values.max()),
                   dtype=series.dtype)


def _decimals(series: pd.Series) -> int:
    if pd.api.types.is_integer_dtype(series):
        return 0
    sample = series.dropna().head(2000).to_numpy(dtype=float)
    for decimals in range(7):
        if np.allclose(sample, sample.round(decimals)):
            return decimals
    return 6


def _group(leaves: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(leaves, kind="stable")
    sorted_leaves = leaves[order]
    cuts = np.flatnonzero(np.diff(sorted_leaves)) + 1
    return {int(chunk_leaves[0]): values[chunk]
            for chunk, chunk_leaves in zip(np.split(order, cuts), np.split(sorted_leaves, cuts),
                                           strict=True)}


def _bandwidth(values: np.ndarray, point_masses: np.ndarray | None) -> float:
    """Silverman's rule of thumb over the leaf's values that are not point masses."""
    if point_masses is not None and len(point_masses):
        values = values[~np.isin(values, point_masses)]
    if len(values) < 2:
        return 0.0
    sd = float(np.std(values, ddof=1))
    q75, q25 = np.percentile(values, [75, 25])
    spread = min(sd, (q75 - q25) / 1.34) or sd
    return 0.9 * spread * len(values) ** -0.2


def _draw(column: _Column, leaves: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(len(leaves), dtype=float if not column.categorical else np.int64)
    assert column.leaf_donors is not None
    for leaf in np.unique(leaves):
        at = np.flatnonzero(leaves == leaf)
        donors = column.leaf_donors[int(leaf)]
        picked = donors[rng.integers(0, len(donors), len(at))]
        if not column.categorical:
            picked = _smooth(column, int(leaf), picked, rng)
        out[at] = picked
    return out


def _smooth(column: _Column, leaf: int, values: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    assert column.leaf_bandwidth is not None
    bandwidth = column.leaf_bandwidth.get(leaf, 0.0)
    if bandwidth <= 0:
        return values
    free = ~np.isin(values, column.point_masses) if column.point_masses is not None else None
    noisy = values + rng.normal(0.0, bandwidth, len(values))
    noisy = np.clip(noisy.round(column.decimals), *column.bounds)
    return np.where(free, noisy, values) if free is not None else noisy


def _decode(column: _Column, values: np.ndarray) -> pd.Series:
    if column.categorical:
        assert column.levels is not None
        decoded = pd.Series(column.levels[values], name=column.name)
        if pd.api.types.is_numeric_dtype(column.dtype):
            return decoded.astype(column.dtype)
        return decoded
    series = pd.Series(values.round(column.decimals), name=column.name)
    if pd.api.types.is_integer_dtype(column.dtype):
        return series.astype(column.dtype)
    return series
