"""Statistical disclosure control (DESIGN 7): risk measures over quasi-identifiers, recorded
transformations, and the least-loss generalisation that meets a target."""

from anonymize.sdc.anonymise import (
    Anonymisation,
    AnonymisationReport,
    anonymisation_summary,
    anonymise,
    resolve_hierarchies,
)
from anonymize.sdc.lattice import LOSSES, Lattice, NodeResult, Target
from anonymize.sdc.risk import RiskReport, SensitiveRisk, risk_report, summary
from anonymize.sdc.search import SearchResult, brute_force, search
from anonymize.sdc.transform import Processing, ProcessingStep

__all__ = [
    "LOSSES",
    "Anonymisation",
    "AnonymisationReport",
    "Lattice",
    "NodeResult",
    "Processing",
    "ProcessingStep",
    "RiskReport",
    "SearchResult",
    "SensitiveRisk",
    "Target",
    "anonymisation_summary",
    "anonymise",
    "brute_force",
    "resolve_hierarchies",
    "risk_report",
    "search",
    "summary",
]
