"""Anonymisation and disclosure control (DESIGN 7): risk measures over quasi-identifiers,
differentially private counts on OpenDP, synthetic microdata on SDV, generalisation
hierarchies. Takes and returns plain data frames and settings; knows nothing of the catalog.

>>> from anonymize import risk_report, dp_count_by, synthesize  # the main entry points
"""

from anonymize.dp import (
    DPAnswer,
    DPQuery,
    DPSchema,
    DPTable,
    count_measurement,
    dp_count_by,
    dp_query,
    metered_query,
)
from anonymize.errors import AnonymizeError
from anonymize.hierarchies import (
    AdminAreaHierarchy,
    CategoryHierarchy,
    DateHierarchy,
    Hierarchy,
    age_hierarchy,
    birth_year_hierarchy,
    income_hierarchy,
    load_admin_areas,
)
from anonymize.outputs import OutputThresholds, Verdict, check_output_file, default_kind
from anonymize.sdc import (
    Anonymisation,
    AnonymisationReport,
    Processing,
    RiskReport,
    SensitiveRisk,
    Target,
    anonymisation_summary,
    anonymise,
    risk_report,
    summary,
)
from anonymize.synth import (
    RELEASE_SYNTHESIZERS,
    SYNTHESIZERS,
    GateThresholds,
    SyntheticRelease,
    SynthResult,
    exact_copies,
    published_report,
    synthesize,
    synthetic_release,
    write_chart,
)

__all__ = [
    "RELEASE_SYNTHESIZERS",
    "SYNTHESIZERS",
    "AdminAreaHierarchy",
    "Anonymisation",
    "AnonymisationReport",
    "AnonymizeError",
    "CategoryHierarchy",
    "DPAnswer",
    "DPQuery",
    "DPSchema",
    "DPTable",
    "DateHierarchy",
    "GateThresholds",
    "Hierarchy",
    "OutputThresholds",
    "Processing",
    "RiskReport",
    "SensitiveRisk",
    "SynthResult",
    "SyntheticRelease",
    "Target",
    "Verdict",
    "age_hierarchy",
    "anonymisation_summary",
    "anonymise",
    "birth_year_hierarchy",
    "check_output_file",
    "count_measurement",
    "default_kind",
    "dp_count_by",
    "dp_query",
    "exact_copies",
    "income_hierarchy",
    "load_admin_areas",
    "metered_query",
    "published_report",
    "risk_report",
    "summary",
    "synthesize",
    "synthetic_release",
    "write_chart",
]
