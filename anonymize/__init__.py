"""Anonymisation and disclosure control (DESIGN 7): risk measures over quasi-identifiers,
differentially private counts on OpenDP, synthetic microdata on SDV, generalisation
hierarchies. Takes and returns plain data frames and settings; knows nothing of the catalog.

>>> from anonymize import risk_report, dp_count_by, synthesize  # the main entry points
"""

from anonymize.dp import DPTable, count_measurement, dp_count_by
from anonymize.errors import AnonymizeError
from anonymize.hierarchies import load_admin_areas
from anonymize.sdc import RiskReport, SensitiveRisk, risk_report, summary
from anonymize.synth import SYNTHESIZERS, SynthResult, exact_copies, synthesize

__all__ = [
    "SYNTHESIZERS",
    "AnonymizeError",
    "DPTable",
    "RiskReport",
    "SensitiveRisk",
    "SynthResult",
    "count_measurement",
    "dp_count_by",
    "exact_copies",
    "load_admin_areas",
    "risk_report",
    "summary",
    "synthesize",
]
