"""Answering one DP query: bound contributions, build the OpenDP measurement, run it once.

The caller charges the budget between :func:`plan_query` (which states the epsilon the
answer will cost) and :func:`run_plan` (which draws the noise): spend first, release after,
so a refused spend never produces an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from anonymize.dp.bounding import BoundedData, bound_contributions
from anonymize.dp.floor import planned_or_refused
from anonymize.dp.schema import DPQuery, DPSchema
from anonymize.dp.statistics import CONFIDENCE, PLANS, Plan
from anonymize.errors import AnonymizeError

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class DPAnswer:
    """A released statistic with everything a reader needs to interpret and trust it."""

    query: DPQuery
    value: float | None  # the scalar answer; None when grouped (see ``rows``)
    lower: float | None  # 95% interval for the true value (None for quantiles: see accuracy)
    upper: float | None
    rows: list[dict[str, Any]] | None  # grouped: one row per declared cell
    epsilon: float  # OpenDP's privacy map of the whole measurement at d_in
    mechanism: str
    scales: dict[str, float]
    d_in: int
    privacy_unit: str | None
    max_contributions: int
    accuracy: dict[str, Any] = field(default_factory=dict)

    delta: float = 0.0
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        doc: dict[str, Any] = {
            **self.query.describe(),
            "epsilon": self.epsilon,
            "epsilon_requested": float(self.query.epsilon),
            "delta": self.delta,
            "privacy": "pure epsilon-differential privacy, person-level (basic composition)",
            "mechanism": self.mechanism,
            "noise_scales": self.scales,
            "confidence": self.confidence,
            "privacy_unit": self.privacy_unit,
            "max_contributions": self.max_contributions,
            "accuracy": self.accuracy,
        }
        if self.rows is not None:
            doc["rows"] = self.rows
        else:
            doc.update(value=self.value, lower=self.lower, upper=self.upper)
        return doc


@dataclass(frozen=True)
class PlannedQuery:
    query: DPQuery
    plan: Plan
    data: BoundedData
    epsilon: float  # the map at d_in: what the answer costs at most


def prepare(df: pd.DataFrame | BoundedData, schema: DPSchema) -> BoundedData:
    """Bound each person's contribution once; queries on the result may then run many times."""
    if isinstance(df, BoundedData):
        if (df.privacy_unit, df.max_contributions) != (schema.privacy_unit,
                                                        schema.d_in if schema.privacy_unit
                                                        else 1):
            return bound_contributions(df.frame, schema.privacy_unit, schema.max_contributions)
        return df
    return bound_contributions(df, schema.privacy_unit, schema.max_contributions)


def plan_query(df: pd.DataFrame | BoundedData, query: DPQuery, schema: DPSchema
               ) -> PlannedQuery:
    """The OpenDP measurement for ``query`` and its privacy loss, before any noise is drawn."""
    data = prepare(df, schema)
    plan = planned_or_refused(lambda q: PLANS[q.statistic](q, data.frame, schema), query)
    _check_numeric(query, data.frame)
    epsilon = float(plan.measurement.map(schema.d_in))
    return PlannedQuery(query, plan, data, epsilon)


#: Statistics that are computed over the values of ``query.column``.
NUMERIC_STATISTICS = ("sum", "mean", "variance", "quantile")


def _check_numeric(query: DPQuery, frame: pd.DataFrame) -> None:
    """Refuse a sum of text while planning: a check that failed after the spend charged it."""
    if query.statistic not in NUMERIC_STATISTICS or query.column not in frame.columns:
        return
    series = frame[query.column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise AnonymizeError(f"column {query.column!r} is not numeric (dtype {series.dtype}): "
                             f"a {query.statistic} needs numbers")


def run_plan(planned: PlannedQuery, schema: DPSchema) -> DPAnswer:
    """Draw the noise once and read the answer; call only after the budget was charged."""
    plan = planned.plan
    out = plan.finish(plan.measurement(planned.data.frame))
    accuracy = {k: v for k, v in plan.notes.items() if k != "bounds"}
    if "bounds" in plan.notes:
        accuracy["clamping_bounds"] = plan.notes["bounds"]
    # How many rows the contribution bound dropped is exact and changes when one person is
    # added: it is never part of an answer (the operator's load log has it).
    common = dict(query=planned.query, epsilon=planned.epsilon, mechanism=plan.mechanism,
                  scales=plan.scales, d_in=schema.d_in, privacy_unit=schema.privacy_unit,
                  max_contributions=schema.max_contributions, accuracy=accuracy)
    if plan.cells is not None:
        rows = plan.cells.copy()
        values = out["values"]
        if planned.query.statistic in ("count", "histogram"):
            # Clamping a noisy count at zero is post-processing: it costs no privacy.
            rows["value"] = np.clip(values, 0, None).astype(np.int64)
        else:
            rows["value"] = values
        rows["lower"], rows["upper"] = out["lower"], out["upper"]
        return DPAnswer(value=None, lower=None, upper=None,
                        rows=_records(rows), **common)
    value = float(out["values"][0])
    lower = None if out["lower"] is None else float(out["lower"][0])
    upper = None if out["upper"] is None else float(out["upper"][0])
    return DPAnswer(value=value, lower=lower, upper=upper, rows=None, **common)


def dp_query(df: pd.DataFrame | BoundedData, query: DPQuery, schema: DPSchema) -> DPAnswer:
    """Answer one query, with no budget (for callers that account elsewhere, and tests).

    >>> df = pd.DataFrame({"link_id": range(100), "age": [30] * 100})
    >>> schema = DPSchema(bounds={"age": (0, 100)})
    >>> answer = dp_query(df, DPQuery("count", epsilon=1.0), schema)
    >>> answer.epsilon <= 1.0, answer.lower < answer.value < answer.upper
    (True, True)
    """
    return run_plan(plan_query(df, query, schema), schema)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]
