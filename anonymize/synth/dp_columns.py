"""How DP synthesis sees one column: many fine cells for its shape, few levels for its pairs.

A pair table needs few levels per column (each cell carries its own noise), while a column's
shape needs many (16 equal-width bins over a skewed income put most people in one bin and
scored 0.04 on SDMetrics' column shape). So each column has *fine cells*, counted once with
noise: one per declared category, one per integer of a narrow range, or equal-width sub-cells
of power-of-two bands for a wide one. The noisy fine counts then cut the column into at most
``LEVELS`` *levels* of about equal mass, the quantile bin edges of the model; after a level is
sampled, a fine cell inside it is drawn from the same noisy counts. Cutting and drawing read
only noisy counts: post-processing, no privacy cost.

Where the cells come from never depends on the data (see ``domains.py``): a declared range or
category list, or for an undeclared number the power-of-two bands whose noisy count clears a
threshold (``discover_bands``), a range found with its own share of epsilon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

#: Levels of about equal mass a numeric column is cut into for the model's pair tables...
LEVELS = 16
#: ... and equal-width steps that also end a level (SDMetrics compares pairs in 10 such).
WIDTH_CUTS = 10
#: An integer range this narrow gets one fine cell per value (birth year over 1900-2025).
MAX_INTEGER_CELLS = 512
#: Equal-width fine cells of a declared range too wide for one cell per value.
RANGE_CELLS = 256
#: Bands below the threshold a discovered range may step over (see ``discovered_range``).
BAND_GAP = 1
#: Equal-width fine cells per power-of-two band of a discovered range (about 4 % wide).
BAND_CELLS = 16
#: Power-of-two bands an undeclared number's range is discovered over: |x| in (2^e, 2^(e+1)]
#: for e in this range, both signs, and zero itself (fixed before any data is read).
BAND_EXPONENTS = range(-7, 44)


@dataclass
class ColumnModel:
    """One column's fine cells, their noisy counts and the levels they are grouped into.

    ``cells`` holds category labels, or for a number either a point (a float: zero, a
    declared mass, an integer value) or a half-open interval ``(low, high)``.
    """

    name: str
    cells: list
    numeric: bool
    dtype: object = None
    decimals: int = 0
    #: Declared or discovered bounds: values beyond are clamped to them, not dropped.
    clip: tuple[float, float] | None = None
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: The Laplace scale the fine counts were measured with.
    noise_scale: float = 1.0
    #: Fine cell -> level; set by :meth:`group` once the counts are known.
    levels_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def levels(self) -> int:
        return int(self.levels_of.max()) + 1 if len(self.levels_of) else 0

    def encode(self, series: pd.Series) -> np.ndarray:
        """Each value's fine cell, -1 where it has none (a category outside the declared)."""
        if not self.numeric:
            lookup = {label: i for i, label in enumerate(self.cells)}
            return np.array([lookup.get(v, -1) for v in series.astype(object)], dtype=np.int64)
        values = series.to_numpy(dtype=float)
        if self.clip is not None:
            values = np.clip(values, *self.clip)
        codes = np.full(len(values), -1, dtype=np.int64)
        points = [(i, c) for i, c in enumerate(self.cells) if not isinstance(c, tuple)]
        spans = [(i, c) for i, c in enumerate(self.cells) if isinstance(c, tuple)]
        if spans:
            lows = np.array([c[0] for _, c in spans])
            at = np.searchsorted(lows, values, side="right") - 1
            # A value between two cells (a band dropped as empty) joins the cell below it,
            # one below the first cell the first: clamped, as values beyond the range are.
            at = np.clip(at, 0, len(spans) - 1)
            ok = ~np.isnan(values)
            codes[ok] = np.array([i for i, _ in spans])[at[ok]]
        for i, point in points:  # a point wins over the interval that also holds it
            codes[values == point] = i
        return codes

    def group(self, counts: np.ndarray) -> None:
        """Keep the noisy fine counts and cut the cells into levels of about equal mass."""
        self.counts = np.maximum(np.asarray(counts, dtype=float), 0.0)
        n = len(self.cells)
        if not self.numeric or n <= LEVELS:
            self.levels_of = np.arange(n, dtype=np.int64)
            return
        total = self.counts.sum()
        target = total / LEVELS if total > 0 else 1.0
        # Equal mass alone would give the sparse tails one wide level, and inside a level
        # the value is drawn without looking at the other columns: children's birth years
        # (who gets child allowance) would spread over decades. So a level also ends at
        # each of WIDTH_CUTS equal-width steps over the range.
        low, high = self.clip if self.clip is not None else (0.0, 0.0)
        steps = iter([*np.linspace(low, high, WIDTH_CUTS + 1)[1:-1].tolist(), np.inf])
        step = next(steps)
        levels, level, mass = np.zeros(n, dtype=np.int64), 0, 0.0
        for i, cell in enumerate(self.cells):
            alone = _is_mass(cell, self.cells)
            start = cell[0] if isinstance(cell, tuple) else cell
            crossed = start >= step
            while start >= step:
                step = next(steps)
            if (alone and mass > 0) or mass >= target or (crossed and mass > 0):
                level, mass = level + 1, 0.0
            levels[i] = level
            mass += self.counts[i]
            if alone:
                mass = target  # the next cell starts a level of its own
        self.levels_of = levels

    def level_counts(self) -> np.ndarray:
        return np.bincount(self.levels_of, weights=self.counts, minlength=self.levels)

    def level_variance(self) -> np.ndarray:
        """Variance of each level's noisy count: 2 scale^2 per fine cell summed into it."""
        cells = np.bincount(self.levels_of, minlength=self.levels)
        return 2.0 * self.noise_scale ** 2 * np.maximum(cells, 1)

    def decode(self, levels: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Values for sampled levels: a fine cell by its noisy count, then a value in it."""
        fine = np.empty(len(levels), dtype=np.int64)
        for level in np.unique(levels):
            rows = np.flatnonzero(levels == level)
            cells = np.flatnonzero(self.levels_of == level)
            weights = self.counts[cells]
            p = weights / weights.sum() if weights.sum() > 0 else None
            fine[rows] = rng.choice(cells, size=len(rows), p=p)
        if not self.numeric:
            out = pd.Series(np.array(self.cells, dtype=object)[fine], name=self.name)
            return out.astype(self.dtype) if pd.api.types.is_numeric_dtype(self.dtype) else out
        lows = np.array([c[0] if isinstance(c, tuple) else c for c in self.cells], dtype=float)
        highs = np.array([c[1] if isinstance(c, tuple) else c for c in self.cells], dtype=float)
        values = rng.uniform(lows[fine], highs[fine])
        values = values.round(self.decimals)
        if self.clip is not None:
            values = np.clip(values, *self.clip)
        series = pd.Series(values, name=self.name)
        return series.astype(self.dtype) if pd.api.types.is_integer_dtype(self.dtype) else series


def _is_mass(cell: object, cells: list) -> bool:
    """A point among intervals (zero, a declared mass) is a level of its own; integer values
    (all points) are grouped like any cells."""
    return not isinstance(cell, tuple) and isinstance(cells[-1], tuple)


def categorical_column(series: pd.Series, labels: list) -> ColumnModel:
    return ColumnModel(series.name, list(labels), numeric=False, dtype=series.dtype)


def numeric_column(series: pd.Series, low: float, high: float, *, masses: tuple = (),
                   decimals: int = 2, bands: list[tuple[float, float]] | None = None
                   ) -> ColumnModel:
    """Fine cells over ``[low, high]``: one per integer when few, else equal-width cells
    (``RANGE_CELLS`` over the range, or ``BAND_CELLS`` within each discovered band);
    zero and declared masses are points of their own."""
    integer = pd.api.types.is_integer_dtype(series)
    if integer:
        low, high = float(np.ceil(low)), float(np.floor(high))
        if high - low + 1 <= MAX_INTEGER_CELLS:
            return ColumnModel(series.name, [float(v) for v in np.arange(low, high + 1)],
                               numeric=True, dtype=series.dtype, decimals=0, clip=(low, high))
    points = sorted({float(m) for m in masses if low <= m <= high}
                    | ({0.0} if low < 0.0 < high or low == 0.0 else set()))
    if bands:
        edges = np.unique(np.concatenate([np.linspace(max(a, low), min(b, high), BAND_CELLS + 1)
                                          for a, b in bands if min(b, high) > max(a, low)]))
    else:
        edges = np.linspace(low, high, RANGE_CELLS + 1)
    spans = [(float(a), float(b)) for a, b in pairwise(edges)] \
        if high > low else [(low, high)]
    # In value order (a point before the interval starting at it): levels are cut in order.
    cells = sorted(points + spans, key=lambda c: (c[0], 1) if isinstance(c, tuple) else (c, 0))
    return ColumnModel(series.name, cells, numeric=True, dtype=series.dtype,
                       decimals=0 if integer else decimals, clip=(low, high))


def band_cells() -> list[tuple[float, float]]:
    """The fixed power-of-two bands, in order, with zero as a band ``(0, 0)`` of its own.

    >>> bands = band_cells()
    >>> (0.0, 0.0) in bands and (1024.0, 2048.0) in bands and (-2048.0, -1024.0) in bands
    True
    """
    positive = [(2.0 ** e, 2.0 ** (e + 1)) for e in BAND_EXPONENTS]
    return [(-b, -a) for a, b in reversed(positive)] + [(0.0, 0.0)] + positive


def band_codes(series: pd.Series) -> np.ndarray:
    """Each value's band index in :func:`band_cells` (clamped into the outermost bands)."""
    values = series.dropna().to_numpy(dtype=float)
    exponents = np.array(list(BAND_EXPONENTS))
    magnitude = np.abs(values)
    # (2^e, 2^(e+1)] holds |x| when e = ceil(log2 |x|) - 1.
    with np.errstate(divide="ignore"):
        e = np.ceil(np.log2(np.where(magnitude > 0, magnitude, 1.0))) - 1
    e = np.clip(e, exponents[0], exponents[-1]).astype(np.int64) - exponents[0]
    n = len(exponents)
    return np.where(values == 0, n, np.where(values > 0, n + 1 + e, n - 1 - e)).astype(np.int64)


def discovered_range(noisy: np.ndarray, threshold: float) -> tuple[float, float,
                                                                   list[tuple[float, float]]]:
    """From noisy band counts: a range and its bands (the fine cells of the range).

    The bands above ``threshold`` that run, with gaps of at most ``BAND_GAP``, from the
    heaviest one; zero joins when it clears the threshold too. A lone band far out is
    noise (even half a spurious band per column in expectation, at 2^40, made every
    synthetic benefit amount fall into one bin of ten), and real values are contiguous.

    >>> bands = band_cells()
    >>> noisy = np.zeros(len(bands)); noisy[bands.index((8.0, 16.0))] = 50
    >>> noisy[bands.index((2.0 ** 40, 2.0 ** 41))] = 12; noisy[bands.index((0.0, 0.0))] = 30
    >>> discovered_range(noisy, 10.0)
    (0.0, 16.0, [(8.0, 16.0)])
    """
    bands = band_cells()
    zero = bands.index((0.0, 0.0))
    above = noisy >= threshold
    side = np.array([b != (0.0, 0.0) for b in bands])
    heaviest = int(np.argmax(np.where(side, noisy, -np.inf)))
    run = [heaviest]
    for step in (-1, 1):
        at, gap = heaviest + step, 0
        while 0 <= at < len(bands) and side[at] and gap <= BAND_GAP:
            if above[at]:
                run.append(at)
                gap = 0
            else:
                gap += 1
            at += step
    run.sort()
    inside = [bands[i] for i in run]
    low, high = bands[run[0]][0], bands[run[-1]][1]
    if above[zero]:
        low, high = min(low, 0.0), max(high, 0.0)
    return float(low), float(high), inside
