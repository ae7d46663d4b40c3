"""An epsilon too small to use is the consumer's input error: refused before any spend with
the smallest epsilon allowed, never an internal error (issue 23)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError
from anonymize.dp.floor import planned_or_refused
from anonymize.dp.metered import metered_query
from anonymize.dp.schema import MIN_EPSILON, DPQuery, DPSchema

RNG = np.random.default_rng(3)
DATA = pd.DataFrame({"link_id": [f"L{i}" for i in range(500)],
                     "income": RNG.gamma(3.0, 1e7, 500)})
SCHEMA = DPSchema(bounds={"income": (0, 2e8)})
STATISTICS = ("count", "sum", "mean", "variance", "quantile")


def _column(statistic: str) -> str | None:
    return None if statistic == "count" else "income"


@pytest.mark.parametrize("epsilon", [1e-300, 1e-12, MIN_EPSILON / 2])
@pytest.mark.parametrize("statistic", STATISTICS)
def test_an_epsilon_below_the_floor_is_refused_naming_the_floor(statistic, epsilon):
    with pytest.raises(AnonymizeError, match=f"smallest allowed, {MIN_EPSILON:g}$"):
        DPQuery(statistic, epsilon=epsilon, column=_column(statistic))


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize("epsilon", [MIN_EPSILON, 0.5])
def test_every_statistic_is_answered_from_the_floor_up(statistic, epsilon):
    # A variance on wide bounds at epsilon 0.5 was an internal error: OpenDP's search for
    # the scale wandered into negative scales.
    spent: list[float] = []
    answer, _ = metered_query(DATA, DPQuery(statistic, epsilon=epsilon,
                                            column=_column(statistic)),
                              SCHEMA, lambda eps, q: spent.append(eps) or 1.0)
    assert spent == [epsilon]
    assert answer.value is not None and np.isfinite(answer.value)


def test_a_mechanism_that_cannot_be_calibrated_is_refused_with_its_own_floor():
    from opendp.mod import OpenDPException

    def plan(query: DPQuery) -> str:  # calibrates only from epsilon 0.01 up, like wide bounds
        if query.epsilon < 0.01:
            raise OpenDPException("MakeMeasurement", "scale must be finite")
        return "planned"

    assert planned_or_refused(plan, DPQuery("count", epsilon=0.02)) == "planned"
    with pytest.raises(AnonymizeError, match="too small") as refused:
        planned_or_refused(plan, DPQuery("count", epsilon=1e-6))
    smallest = float(re.search(r"smallest allowed is (\S+)$", str(refused.value)).group(1))
    assert 0.01 <= smallest <= 0.011  # two significant digits, rounded up


def test_a_failure_that_no_epsilon_cures_is_not_called_too_small():
    from opendp.mod import OpenDPException

    def plan(query: DPQuery) -> str:
        raise OpenDPException("FailedFunction", "something else")

    with pytest.raises(OpenDPException):
        planned_or_refused(plan, DPQuery("count", epsilon=0.5))
