"""Differentially private releases on OpenDP measurements (DESIGN 7).

Pure epsilon-DP with the person (``link_id``) as the unit: counts, sums, means, variances,
quantiles, histograms and group-by counts and sums over declared keys, each with a 95%
interval from OpenDP's accuracy functions; :func:`metered_query` charges a budget first.
"""

from anonymize.dp.bounding import BoundedData, bound_contributions
from anonymize.dp.counts import DPTable, count_measurement, dp_count_by
from anonymize.dp.data import BoundedDataCache, sha256_file
from anonymize.dp.metered import Charge, metered_query
from anonymize.dp.query import DPAnswer, dp_query, plan_query, run_plan
from anonymize.dp.schema import STATISTICS, DPQuery, DPSchema
from anonymize.dp.specs import QuerySpec
from anonymize.dp.tables import (
    Dimension,
    DPTableRelease,
    TableSpec,
    dp_table,
    plan_table,
    release_table,
)

__all__ = [
    "STATISTICS",
    "BoundedData",
    "BoundedDataCache",
    "Charge",
    "DPAnswer",
    "DPQuery",
    "DPSchema",
    "DPTable",
    "DPTableRelease",
    "Dimension",
    "QuerySpec",
    "TableSpec",
    "bound_contributions",
    "count_measurement",
    "dp_count_by",
    "dp_query",
    "dp_table",
    "metered_query",
    "plan_query",
    "plan_table",
    "release_table",
    "run_plan",
    "sha256_file",
]
