"""One OpenDP measurement per statistic, and how to read its output with a 95% interval.

Privacy definition: pure epsilon-differential privacy (no delta), with the person as the
unit. Counts and integer sums get discrete Laplace noise, float sums Laplace noise on OpenDP's
fine lattice, quantiles OpenDP's report-noisy-max over quantile scores (the exponential
mechanism). A statistic with several parts (mean: count and sum; variance: count, sum and sum
of squares) splits its epsilon evenly and is composed with OpenDP's basic composition, whose
map is what the answer reports; its 95% interval is simulated from the parts' noise
distributions (:mod:`anonymize.dp.intervals`), where a single part's comes from OpenDP's
accuracy functions. Budgets add epsilons: basic composition, as the ledger does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, reduce
from operator import mul
from typing import Any

import numpy as np
import opendp.accuracy
import opendp.domains
import opendp.measurements
import opendp.measures
import opendp.metrics
import opendp.mod
import opendp.transformations
import pandas as pd
from opendp.typing import i64

from anonymize.dp.intervals import Noise, simulated_interval
from anonymize.dp.schema import DPQuery, DPSchema
from anonymize.dp.space import FRAME_METRIC, calibrated, composed, delegated
from anonymize.errors import AnonymizeError

CONFIDENCE = 0.95
#: How mean and variance intervals are found (see anonymize.dp.intervals).
SIMULATED = ("simulated: 2.5% and 97.5% quantiles of the statistic over the released parts "
             "minus fresh draws of their noise (kinds and scales from OpenDP)")
#: Most candidates a quantile is chosen among; integer columns with a narrower range use
#: every integer in it.
MAX_QUANTILE_CANDIDATES = 2049


@dataclass
class Plan:
    """A measurement ready to run on bounded data, and how to read its raw output."""

    measurement: opendp.mod.Measurement
    mechanism: str
    scales: dict[str, float]
    finish: Callable[[Any], dict[str, Any]]
    cells: pd.DataFrame | None = None  # the declared key grid of a grouped statistic
    notes: dict[str, Any] = field(default_factory=dict)


# -- numeric columns ------------------------------------------------------------------------

@dataclass(frozen=True)
class Numeric:
    """A numeric column's clamping bounds and the OpenDP atom type its sums use."""

    column: str
    lower: float
    upper: float
    integer: bool

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        """Non-missing values, clamped; dropping a missing row is a row-wise, stable step."""
        series = frame[self.column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            raise AnonymizeError(f"column {self.column!r} is not numeric "
                                 f"(dtype {series.dtype}): sums, means and quantiles need "
                                 "numbers")
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
        keep = ~np.isnan(raw)
        clamped = np.clip(raw[keep], self.lower, self.upper)
        return clamped.astype(np.int64) if self.integer else clamped

    def sum_reference(self, lower: float | None = None,
                      upper: float | None = None) -> opendp.mod.Transformation:
        lo = self.lower if lower is None else lower
        hi = self.upper if upper is None else upper
        atom = (opendp.domains.atom_domain(bounds=(int(lo), int(hi)), T=i64) if self.integer
                else opendp.domains.atom_domain(bounds=(float(lo), float(hi)), nan=False))
        return opendp.transformations.make_sum(opendp.domains.vector_domain(atom), FRAME_METRIC)


def numeric(frame: pd.DataFrame, column: str, schema: DPSchema) -> Numeric:
    if column not in frame.columns:
        raise AnonymizeError(f"column {column!r} is not in the data")
    lower, upper = schema.bounds_of(column)
    integer = (pd.api.types.is_integer_dtype(frame[column])
               and float(lower).is_integer() and float(upper).is_integer())
    return Numeric(column, float(lower), float(upper), integer)


@lru_cache(maxsize=4096)
def accuracy(scale: float, integer: bool, alpha: float) -> float:
    """Half-width a with P(|noise| > a) <= alpha, from OpenDP's accuracy functions."""
    if integer:
        return float(opendp.accuracy.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return float(opendp.accuracy.laplacian_scale_to_accuracy(scale, alpha))


# -- cells of a grouped statistic ----------------------------------------------------------

def cell_grid(schema: DPSchema, columns: tuple[str, ...]) -> pd.DataFrame:
    keys = [schema.keys_of(c) for c in columns]
    return pd.MultiIndex.from_product(keys, names=list(columns)).to_frame(index=False)


def cell_index(frame: pd.DataFrame, columns: tuple[str, ...], schema: DPSchema) -> np.ndarray:
    """Each row's position in the row-major cross product of the declared keys; -1 outside."""
    index = np.zeros(len(frame), dtype=np.int64)
    outside = np.zeros(len(frame), dtype=bool)
    for column in columns:
        if column not in frame.columns:
            raise AnonymizeError(f"column {column!r} is not in the data")
        keys = schema.keys_of(column)
        codes = pd.Categorical(frame[column], categories=keys).codes.astype(np.int64)
        outside |= codes < 0
        index = index * len(keys) + codes
    index[outside] = -1
    return index


# -- the statistics -------------------------------------------------------------------------

def share(epsilon: float, parts: int) -> float:
    """Each of ``parts`` equal shares of ``epsilon``, a hair under ``epsilon / parts``.

    OpenDP's composition adds the parts' maps rounding upward, so three maps of exactly
    ``0.01 / 3`` can sum past 0.01; one part in a billion less keeps the total within.

    >>> 3 * share(0.01, 3) <= 0.01
    True
    """
    return epsilon / parts * (1 - 1e-9)


def _laplace(domain: opendp.mod.Domain, metric: opendp.mod.Metric
             ) -> Callable[[float], opendp.mod.Measurement]:
    return lambda scale: opendp.measurements.make_laplace(domain, metric, scale=scale)


def _count_part(schema: DPSchema, epsilon: float, columns: tuple[str, ...] = (),
                present: Numeric | None = None) -> tuple[opendp.mod.Measurement, float, int]:
    """Noisy count of rows (per cell when grouped), or of rows where ``present``'s column
    is not missing: the denominator of that column's mean and variance."""
    if not columns:
        reference = opendp.transformations.make_count(
            opendp.domains.vector_domain(opendp.domains.atom_domain(T=i64)), FRAME_METRIC,
            TO=i64)
        if present is None:
            transformation = delegated(reference, lambda frame: len(frame))
        else:
            # Dropping rows with a missing value is row-wise, so the count keeps its map.
            transformation = delegated(
                reference, lambda frame: int(frame[present.column].notna().sum()))
        cells = 1
    else:
        cells = reduce(mul, (len(schema.keys_of(c)) for c in columns), 1)
        reference = opendp.transformations.make_count_by_categories(
            opendp.domains.vector_domain(opendp.domains.atom_domain(T=i64)), FRAME_METRIC,
            categories=list(range(cells)), null_category=False, TOA=i64)

        def counts(frame: pd.DataFrame) -> list[int]:
            index = cell_index(frame, columns, schema)
            return np.bincount(index[index >= 0], minlength=cells).tolist()

        transformation = delegated(reference, counts)
    noise = _laplace(transformation.output_domain, transformation.output_metric)
    measurement, scale = calibrated(transformation, noise, schema.d_in, epsilon)
    return measurement, scale, cells


def _sum_part(num: Numeric, schema: DPSchema, epsilon: float, columns: tuple[str, ...] = (),
              transform: Callable[[np.ndarray], np.ndarray] | None = None,
              lower: float | None = None, upper: float | None = None
              ) -> tuple[opendp.mod.Measurement, float]:
    """Noisy sum (per cell when grouped) of a clamped column, or of ``transform`` of it.

    ``transform`` must map the clamped values into [lower, upper]: its output is clamped again
    so the bound OpenDP's stability map assumes holds whatever it computes.
    """
    reference = num.sum_reference(lower, upper)
    lo = num.lower if lower is None else lower
    hi = num.upper if upper is None else upper
    integer = num.integer and transform is None

    def values(frame: pd.DataFrame) -> np.ndarray:
        vals = num.values(frame)
        if transform is not None:
            vals = np.clip(transform(vals.astype(np.float64)), lo, hi)
        return vals

    def total(vals: np.ndarray) -> Any:
        # Exactly rounded float sums: OpenDP's float-sum stability allows for rounding error
        # that a naive running sum could exceed.
        return int(vals.sum()) if integer else math.fsum(vals)

    if integer and max(abs(lo), abs(hi)) * 2 ** 31 > 2 ** 62:
        raise AnonymizeError(f"bounds of column {num.column!r} are too wide for an exact "
                             "integer sum")
    if not columns:
        transformation = delegated(reference, lambda frame: total(values(frame)))
    else:
        cells = reduce(mul, (len(schema.keys_of(c)) for c in columns), 1)
        atom = (opendp.domains.atom_domain(T=i64) if integer
                else opendp.domains.atom_domain(T=float, nan=False))
        metric = opendp.metrics.l1_distance(T=i64 if integer else float)

        def sums(frame: pd.DataFrame) -> list:
            # Each row lands in exactly one cell, so the L1 change of the cell vector between
            # neighbours is bounded by the change of the total that OpenDP's map bounds.
            present = frame[num.column].notna().to_numpy()
            index = cell_index(frame, columns, schema)[present]
            vals = values(frame)
            order = np.argsort(index, kind="stable")
            index, vals = index[order], vals[order]
            edges = np.searchsorted(index, np.arange(cells + 1), side="left")
            return [total(vals[edges[c]:edges[c + 1]]) for c in range(cells)]

        transformation = delegated(
            reference, sums, output_domain=opendp.domains.vector_domain(atom, size=cells),
            output_metric=metric)
    noise = _laplace(transformation.output_domain, transformation.output_metric)
    return calibrated(transformation, noise, schema.d_in, epsilon)


def count_plan(query: DPQuery, frame: pd.DataFrame, schema: DPSchema) -> Plan:
    columns = query.group_columns
    measurement, scale, _ = _count_part(schema, float(query.epsilon), columns)
    half = accuracy(scale, True, 1 - CONFIDENCE)

    def finish(raw: Any) -> dict[str, Any]:
        noisy = np.atleast_1d(np.asarray(raw, dtype=np.int64))
        return {"values": noisy.astype(float), "lower": noisy - half, "upper": noisy + half}

    return Plan(measurement, "discrete_laplace", {"count": scale}, finish,
                cells=cell_grid(schema, columns) if columns else None,
                notes={"accuracy_95": half})


def sum_plan(query: DPQuery, frame: pd.DataFrame, schema: DPSchema) -> Plan:
    num = numeric(frame, query.column, schema)
    measurement, scale = _sum_part(num, schema, float(query.epsilon), query.by)
    half = accuracy(scale, num.integer, 1 - CONFIDENCE)

    def finish(raw: Any) -> dict[str, Any]:
        noisy = np.atleast_1d(np.asarray(raw, dtype=np.float64))
        return {"values": noisy, "lower": noisy - half, "upper": noisy + half}

    return Plan(measurement, "discrete_laplace" if num.integer else "laplace",
                {"sum": scale}, finish,
                cells=cell_grid(schema, query.by) if query.by else None,
                notes={"accuracy_95": half, "bounds": [num.lower, num.upper]})


def mean_plan(query: DPQuery, frame: pd.DataFrame, schema: DPSchema) -> Plan:
    num = numeric(frame, query.column, schema)
    part = share(float(query.epsilon), 2)
    count_m, count_scale, _ = _count_part(schema, part, present=num)
    sum_m, sum_scale = _sum_part(num, schema, part)
    noises = [Noise(count_scale, True), Noise(sum_scale, num.integer)]

    def mean(n: np.ndarray, total: np.ndarray) -> np.ndarray:
        return np.clip(total / np.maximum(n, 1.0), num.lower, num.upper)

    def finish(raw: Any) -> dict[str, Any]:
        n, total = float(raw[0]), float(raw[1])
        value = float(mean(np.array(n), np.array(total)))
        lo, hi = simulated_interval([n, total], noises, mean, CONFIDENCE)
        return {"values": np.array([value]), "lower": np.array([min(lo, value)]),
                "upper": np.array([max(hi, value)])}

    return Plan(composed([count_m, sum_m]), "discrete_laplace" if num.integer else "laplace",
                {"count": count_scale, "sum": sum_scale}, finish,
                notes={"bounds": [num.lower, num.upper], "interval": SIMULATED})


def variance_plan(query: DPQuery, frame: pd.DataFrame, schema: DPSchema) -> Plan:
    num = numeric(frame, query.column, schema)
    # Centred at the middle of the bounds: the variance is unchanged and the sums' bounds
    # (hence their noise) are as small as they can be.
    mid, half_range = (num.lower + num.upper) / 2, (num.upper - num.lower) / 2
    centred = Numeric(num.column, num.lower, num.upper, integer=False)
    part = share(float(query.epsilon), 3)
    count_m, count_scale, _ = _count_part(schema, part, present=num)
    sum_m, sum_scale = _sum_part(centred, schema, part, transform=lambda v: v - mid,
                                 lower=-half_range, upper=half_range)
    sq_m, sq_scale = _sum_part(centred, schema, part, transform=lambda v: (v - mid) ** 2,
                               lower=0.0, upper=half_range ** 2)
    ceiling = half_range ** 2
    noises = [Noise(count_scale, True), Noise(sum_scale, False), Noise(sq_scale, False)]

    def variance(n: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
        m = np.maximum(n, 2.0)
        return np.clip((q - s * s / m) / (m - 1), 0.0, ceiling)

    def finish(raw: Any) -> dict[str, Any]:
        n, s, q = (float(v) for v in raw)
        value = float(variance(np.array(n), np.array(s), np.array(q))) if n >= 2 \
            else ceiling / 2
        lo, hi = simulated_interval([n, s, q], noises, variance, CONFIDENCE)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = 0.0, ceiling
        return {"values": np.array([value]), "lower": np.array([min(lo, value)]),
                "upper": np.array([max(hi, value)])}

    return Plan(composed([count_m, sum_m, sq_m]), "laplace",
                {"count": count_scale, "sum": sum_scale, "sum_of_squares": sq_scale}, finish,
                notes={"bounds": [num.lower, num.upper], "interval": SIMULATED})


def quantile_candidates(num: Numeric) -> np.ndarray:
    if num.integer and num.upper - num.lower < MAX_QUANTILE_CANDIDATES:
        return np.arange(num.lower, num.upper + 1, dtype=np.float64)
    return np.linspace(num.lower, num.upper, MAX_QUANTILE_CANDIDATES)


def score_weights(alpha: float) -> tuple[int, int]:
    """OpenDP's integer weights (A, B) of a candidate's score |A*below - B*above|, read off
    its own transformation on a one-row probe, so our scores use exactly its rational alpha.

    >>> score_weights(0.5), score_weights(0.25)
    ((1, 1), (3, 1))
    """
    probe = opendp.transformations.make_quantile_score_candidates(
        opendp.domains.vector_domain(opendp.domains.atom_domain(T=float, nan=False)),
        FRAME_METRIC, candidates=[0.0, 1.0], alpha=alpha)
    b, a = probe([0.5])
    return int(a), int(b)


def quantile_scores(values: np.ndarray, candidates: np.ndarray, weights: tuple[int, int]
                    ) -> list[int]:
    a, b = weights
    ordered = np.sort(values)
    below = np.searchsorted(ordered, candidates, side="left").astype(np.int64)
    above = len(ordered) - np.searchsorted(ordered, candidates, side="right").astype(np.int64)
    return np.abs(a * below - b * above).tolist()


def quantile_plan(query: DPQuery, frame: pd.DataFrame, schema: DPSchema) -> Plan:
    num = numeric(frame, query.column, schema)
    candidates = quantile_candidates(num)
    reference = opendp.transformations.make_quantile_score_candidates(
        opendp.domains.vector_domain(opendp.domains.atom_domain(T=float, nan=False)),
        FRAME_METRIC, candidates=candidates.tolist(), alpha=query.quantile)
    weights = score_weights(query.quantile)
    transformation = delegated(
        reference,
        lambda f: quantile_scores(num.values(f).astype(np.float64), candidates, weights))

    def noise(scale: float) -> opendp.mod.Measurement:
        return opendp.measurements.make_noisy_max(
            transformation.output_domain, transformation.output_metric,
            opendp.measures.max_divergence(), scale=scale, negate=True)

    measurement, scale = calibrated(transformation, noise, schema.d_in, float(query.epsilon),
                                    factor=2.0)
    # Exponential-mechanism utility bound (union over candidates): with 95% probability the
    # chosen candidate's score is within scale*ln(|C|/0.05) of the best one. A score unit is
    # 1/(A+B) of a row, so this is a bound on how many rows the rank is off.
    excess = scale * math.log(len(candidates) / (1 - CONFIDENCE))
    rank_rows = excess / sum(weights)

    def finish(raw: Any) -> dict[str, Any]:
        value = float(candidates[int(raw)])
        return {"values": np.array([value]), "lower": None, "upper": None}

    return Plan(measurement, "report_noisy_max_gumbel", {"quantile_scores": scale}, finish,
                notes={"rank_error_95": rank_rows, "score_excess_95": excess,
                       "candidates": len(candidates), "quantile": query.quantile,
                       "bounds": [num.lower, num.upper]})


PLANS: dict[str, Callable[[DPQuery, pd.DataFrame, DPSchema], Plan]] = {
    "count": count_plan,
    "histogram": count_plan,
    "sum": sum_plan,
    "mean": mean_plan,
    "variance": variance_plan,
    "quantile": quantile_plan,
}
