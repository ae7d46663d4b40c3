"""Answering against a budget: the spend happens before the noise is drawn.

The budget lives elsewhere (the catalog's ledger); this module only fixes the order. A
``charge`` callback receives the epsilon and the query as the ledger should record it, and
raises to refuse; when it raises, no measurement runs and nothing is released.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from anonymize.dp.bounding import BoundedData
from anonymize.dp.query import DPAnswer, plan_query, run_plan
from anonymize.dp.schema import DPQuery, DPSchema

#: Charges ``epsilon`` for ``query``; raises to refuse. Returns the budget left.
Charge = Callable[[float, Mapping[str, Any]], float]


def metered_query(data: pd.DataFrame | BoundedData, query: DPQuery, schema: DPSchema,
                  charge: Charge) -> tuple[DPAnswer, float]:
    """Plan, charge the requested epsilon (never less than OpenDP's map), then answer.

    >>> spent = []
    >>> df = pd.DataFrame({"link_id": range(10)})
    >>> answer, left = metered_query(df, DPQuery("count", epsilon=0.5), DPSchema(),
    ...                              lambda eps, q: spent.append(eps) or 1.5)
    >>> spent, left
    ([0.5], 1.5)
    """
    planned = plan_query(data, query, schema)
    charged = float(query.epsilon)
    if planned.epsilon > charged:  # pragma: no cover - calibration guarantees map <= epsilon
        raise AssertionError("OpenDP's privacy map exceeds the epsilon to be charged")
    remaining = charge(charged, {**query.describe(), "epsilon_map": planned.epsilon,
                                 "d_in": schema.d_in})
    return run_plan(planned, schema), remaining
