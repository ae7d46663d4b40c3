"""A DP query's inputs are checked before any budget is spent (issue 22, item 4)."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymize import AnonymizeError
from anonymize.dp.metered import metered_query
from anonymize.dp.schema import DPQuery, DPSchema


@pytest.mark.parametrize("statistic", ["sum", "mean", "variance", "quantile"])
def test_a_numeric_statistic_on_a_bounded_text_column_is_refused_before_the_spend(statistic):
    data = pd.DataFrame({"link_id": range(50), "sido": ["서울"] * 50})
    spent: list[float] = []
    with pytest.raises(AnonymizeError, match="'sido' is not numeric"):
        metered_query(data, DPQuery(statistic, epsilon=0.5, column="sido"),
                      DPSchema(bounds={"sido": (0, 10)}),
                      lambda epsilon, query: spent.append(epsilon) or 1.0)
    assert spent == []
