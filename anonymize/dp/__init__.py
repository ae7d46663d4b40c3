"""Differentially private releases on OpenDP measurements (DESIGN 7)."""

from anonymize.dp.counts import DPTable, count_measurement, dp_count_by

__all__ = ["DPTable", "count_measurement", "dp_count_by"]
