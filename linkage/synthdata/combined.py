"""The combined table the pipeline would produce, joined on the ground truth instead.

Work that starts after ``combine`` (synthesis, disclosure control) is tested and benchmarked
on this, so it need not run prepare, link and combine first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SSIS_ATTRIBUTES = ["birth_year", "sex", "sido", "sigungu", "household_size", "income",
                   "benefit_type", "benefit_amount"]
BUILDING_ATTRIBUTES = ["building_use", "structure", "built_year", "floor_area", "sido",
                       "sigungu"]


def combined_by_truth(out_dir: str | Path) -> pd.DataFrame:
    """``link_id`` then ``ssis__*`` and ``building__*`` attributes of every true pair in
    ``out_dir`` (as written by :func:`generate`)."""
    out_dir = Path(out_dir)
    ssis = pd.read_parquet(out_dir / "ssis.parquet", columns=["record_id", *SSIS_ATTRIBUTES])
    building = pd.read_parquet(out_dir / "building.parquet",
                               columns=["record_id", *BUILDING_ATTRIBUTES])
    truth = pd.read_parquet(out_dir / "truth.parquet")
    joined = (truth.merge(ssis.add_prefix("ssis__"), left_on="ssis_record_id",
                          right_on="ssis__record_id")
              .merge(building.add_prefix("building__"), left_on="building_record_id",
                     right_on="building__record_id"))
    out = joined[[f"ssis__{c}" for c in SSIS_ATTRIBUTES]
                 + [f"building__{c}" for c in BUILDING_ATTRIBUTES]]
    return out.assign(link_id=[f"L{i:08d}" for i in range(len(out))])[["link_id", *out.columns]]
