"""Differentially private counts per cell of a declared cross product, on OpenDP.

Privacy unit and neighbours: two datasets are neighbours when they differ by adding or
removing all the rows of one person (the ``privacy_unit`` column), so that the input distance
is OpenDP's symmetric distance ``d_in = max_contributions`` once every person is bounded to
that many rows. Without a privacy unit each row is a person (``d_in = 1``).

The released cells are the full cross product of the declared ``keys``, never the cells seen
in the data, so which combinations occur does not leak: an empty cell gets a noisy zero.
Rows whose values are not among the declared keys fall outside every cell and are not counted.

Mechanism: OpenDP's ``make_count_by_categories`` (L1 sensitivity ``d_in``) chained with
``then_laplace`` on integers, which is the discrete Laplace (geometric) mechanism: pure
epsilon-DP, no delta. Negative noisy counts are clamped to 0 afterwards; that is
post-processing, so it costs no privacy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import mul
from typing import Any

import numpy as np
import opendp.accuracy
import opendp.domains
import opendp.measurements
import opendp.metrics
import opendp.mod
import opendp.transformations
import pandas as pd
from opendp.typing import i64

from anonymize.errors import AnonymizeError

# OpenDP gates its constructors behind "contrib" (features not yet vetted by its committee);
# enabling it is a deliberate choice to use them, as every OpenDP user must. The submodules
# are imported one by one because ``opendp.prelude`` also imports scikit-learn (seconds).
opendp.mod.enable_features("contrib")

MECHANISM = "discrete_laplace"
CONFIDENCE = 0.95

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class DPTable:
    """A released table of noisy counts and what a reader needs to trust and interpret it."""

    table: pd.DataFrame  # the ``by`` columns, then ``count`` (non-negative integers)
    epsilon: float  # privacy loss actually spent: the measurement's map at d_in
    mechanism: str
    scale: float  # noise scale of the discrete Laplace distribution
    accuracy_95: float  # |noisy - true| < accuracy_95 with probability 95%, per cell
    d_in: int  # symmetric distance between neighbours (= max_contributions)
    privacy_unit: str | None
    max_contributions: int
    rows_dropped_by_bound: int = 0  # rows beyond each person's max_contributions
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Parameters and rows, JSON-ready."""
        return {
            "epsilon": self.epsilon,
            "delta": 0.0,
            "mechanism": self.mechanism,
            "scale": self.scale,
            "accuracy_95": self.accuracy_95,
            "d_in": self.d_in,
            "privacy_unit": self.privacy_unit,
            "max_contributions": self.max_contributions,
            "rows": self.table.to_dict(orient="records"),
        }


def count_measurement(cells: int, d_in: int,
                      epsilon: float) -> tuple[opendp.mod.Measurement, float]:
    """Count-by-cell-index chained with discrete Laplace noise, scaled so that the privacy
    map at ``d_in`` does not exceed ``epsilon``; returns the measurement and its noise scale.

    >>> meas, scale = count_measurement(cells=3, d_in=2, epsilon=1.0)
    >>> meas.map(2) <= 1.0, scale
    (True, 2.0)
    """
    counts = opendp.transformations.make_count_by_categories(
        opendp.domains.vector_domain(opendp.domains.atom_domain(T=i64)),
        opendp.metrics.symmetric_distance(),
        categories=list(range(cells)),
        null_category=False,
        TOA=i64,
    )
    sensitivity = counts.map(d_in)
    scale = sensitivity / epsilon

    def noise(s: float) -> opendp.mod.Measurement:
        return opendp.measurements.make_laplace(counts.output_domain, counts.output_metric, scale=s)

    if noise(scale).map(sensitivity) > epsilon:
        # d_in / epsilon can round so that the map lands a hair above epsilon: let OpenDP
        # find the smallest scale whose map is within it.
        scale = opendp.mod.binary_search_param(noise, d_in=sensitivity, d_out=epsilon)
    meas = counts >> noise(scale)
    assert meas.map(d_in) <= epsilon, "OpenDP privacy map exceeds the requested epsilon"
    return meas, float(scale)


def dp_count_by(df: pd.DataFrame, by: list[str], *, epsilon: float, keys: dict[str, list],
                privacy_unit: str | None = "link_id", max_contributions: int = 1,
                progress: Progress | None = None) -> DPTable:
    """Release a noisy count for every combination of the declared ``keys`` of ``by``.

    >>> df = pd.DataFrame({"link_id": [1, 2, 3], "sex": ["F", "F", "M"]})
    >>> out = dp_count_by(df, ["sex"], epsilon=1.0, keys={"sex": ["F", "M", "X"]})
    >>> out.table["sex"].tolist(), out.scale
    (['F', 'M', 'X'], 1.0)
    """
    by = list(by)
    _check(df, by, epsilon, keys, privacy_unit, max_contributions)
    report = progress or (lambda stage, done, total: None)

    report("bound contributions", 0, 1)
    bounded, dropped = _bound_contributions(df, privacy_unit, max_contributions)
    report("bound contributions", 1, 1)

    cell_index = _cell_index(bounded, by, keys)
    cells = reduce(mul, (len(keys[col]) for col in by), 1)
    d_in = max_contributions if privacy_unit is not None else 1
    meas, scale = count_measurement(cells, d_in, epsilon)

    report("release noisy counts", 0, 1)
    noisy = np.asarray(meas(cell_index.tolist()), dtype=np.int64)
    report("release noisy counts", 1, 1)

    grid = pd.MultiIndex.from_product([keys[col] for col in by], names=by).to_frame(index=False)
    grid["count"] = np.clip(noisy, 0, None)
    return DPTable(
        table=grid,
        epsilon=float(meas.map(d_in)),
        mechanism=MECHANISM,
        scale=scale,
        accuracy_95=accuracy(scale),
        d_in=d_in,
        privacy_unit=privacy_unit,
        max_contributions=max_contributions,
        rows_dropped_by_bound=dropped,
        meta={"cells": cells, "requested_epsilon": epsilon},
    )



def accuracy(scale: float, confidence: float = CONFIDENCE) -> float:
    """Half-width of the interval around a noisy count that holds the true count with the
    given confidence, from OpenDP's accuracy function for the discrete Laplace mechanism.

    >>> round(accuracy(1.0), 2)
    3.38
    """
    return float(opendp.accuracy.discrete_laplacian_scale_to_accuracy(scale, 1 - confidence))


def _check(df: pd.DataFrame, by: list[str], epsilon: float, keys: dict[str, list],
           privacy_unit: str | None, max_contributions: int) -> None:
    if not by:
        raise AnonymizeError("dp_count_by needs at least one column to group by")
    for col in [*by, *([privacy_unit] if privacy_unit is not None else [])]:
        if col not in df.columns:
            raise AnonymizeError(f"column {col!r} is not in the data "
                                 f"(columns: {', '.join(map(str, df.columns))})")
    for col in by:
        if col not in keys or len(keys[col]) == 0:
            # Keys taken from the data would reveal which values occur: they must be declared.
            raise AnonymizeError(f"no declared keys for column {col!r}: DP counts need the "
                                 f"full set of values given up front")
        if len(set(keys[col])) != len(keys[col]):
            raise AnonymizeError(f"declared keys for column {col!r} repeat a value")
    if not (isinstance(epsilon, int | float) and np.isfinite(epsilon) and epsilon > 0):
        raise AnonymizeError(f"epsilon must be a positive finite number, got {epsilon!r}")
    if int(max_contributions) != max_contributions or max_contributions < 1:
        raise AnonymizeError(f"max_contributions must be a positive integer, "
                             f"got {max_contributions!r}")


def _bound_contributions(df: pd.DataFrame, privacy_unit: str | None,
                         max_contributions: int) -> tuple[pd.DataFrame, int]:
    """Keep at most ``max_contributions`` rows per person, chosen at random.

    Which rows a person keeps depends only on that person's rows and fresh randomness, never
    on anyone else's data, so adding or removing one person changes the bounded data by at
    most ``max_contributions`` rows: this is what makes ``d_in = max_contributions`` sound.
    A missing privacy unit is one person of its own (all such rows share one bound).
    """
    if privacy_unit is None:
        return df, 0
    shuffled = df.sample(frac=1.0, random_state=np.random.default_rng())
    rank = shuffled.groupby(privacy_unit, dropna=False, sort=False).cumcount()
    kept = shuffled[rank.to_numpy() < max_contributions]
    return kept, len(df) - len(kept)


def _cell_index(df: pd.DataFrame, by: Sequence[str], keys: dict[str, list]) -> np.ndarray:
    """Each row's position in the row-major cross product of the keys; -1 outside it."""
    index = np.zeros(len(df), dtype=np.int64)
    outside = np.zeros(len(df), dtype=bool)
    for col in by:
        codes = pd.Categorical(df[col], categories=keys[col]).codes.astype(np.int64)
        outside |= codes < 0
        index = index * len(keys[col]) + codes
    index[outside] = -1
    return index
