"""Airlock rules for results leaving the secure room (DESIGN 7), as small checks.

Each ``check_*`` returns a :class:`Verdict` with a reason a person can read; thresholds
come from :class:`OutputThresholds`, which each data custodian may set.

>>> import pandas as pd
>>> check_min_cell_count(pd.DataFrame({"men": [25, 3]}, index=["Seoul", "Busan"])).ok
False
"""

from anonymize.outputs.content import KINDS, check_declared_kind, infer_kind, table_kind
from anonymize.outputs.files import (
    check_file_size,
    check_file_type,
    check_output_file,
    check_row_count,
    default_kind,
)
from anonymize.outputs.magnitude import (
    check_magnitude_table,
    evidence_columns,
    magnitude_table,
    without_evidence,
)
from anonymize.outputs.microdata import check_microdata
from anonymize.outputs.models import check_residual_df, residual_df
from anonymize.outputs.tables import (
    check_dominance,
    check_magnitude_counts,
    check_margins,
    check_min_cell_count,
    check_p_percent,
    check_zeros,
    contributions,
    split_margins,
)
from anonymize.outputs.thresholds import OutputThresholds
from anonymize.outputs.verdict import Verdict

__all__ = [
    "KINDS",
    "OutputThresholds",
    "Verdict",
    "check_declared_kind",
    "check_dominance",
    "check_file_size",
    "check_file_type",
    "check_magnitude_counts",
    "check_magnitude_table",
    "check_margins",
    "check_microdata",
    "check_min_cell_count",
    "check_output_file",
    "check_p_percent",
    "check_residual_df",
    "check_row_count",
    "check_zeros",
    "contributions",
    "default_kind",
    "evidence_columns",
    "infer_kind",
    "magnitude_table",
    "residual_df",
    "split_margins",
    "table_kind",
    "without_evidence",
]
