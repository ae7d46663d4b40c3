"""Synthetic microdata with a quality report and a privacy gate (DESIGN 7).

``synthetic_release`` is the whole job (holdout, fit, sample, constraints, report, gate);
``synthesize`` is the plain SDV wrapper kept for quick looks.
"""

from anonymize.synth.cart import SequentialTreeSynthesizer
from anonymize.synth.constraints import Constraints
from anonymize.synth.domains import NumericRange, load_domains, undeclared_categories
from anonymize.synth.dp_mst import DPSynthesis, dp_mst
from anonymize.synth.gate import GateResult, GateThresholds, privacy_gate
from anonymize.synth.privacy import exact_copies
from anonymize.synth.published import published_report
from anonymize.synth.release import (
    RELEASE_SYNTHESIZERS,
    SyntheticRelease,
    check_release_inputs,
    modelled_columns,
    synthetic_release,
)
from anonymize.synth.report import write_chart
from anonymize.synth.synthesizers import SYNTHESIZERS, SynthResult, synthesize

__all__ = [
    "RELEASE_SYNTHESIZERS",
    "SYNTHESIZERS",
    "Constraints",
    "DPSynthesis",
    "GateResult",
    "GateThresholds",
    "NumericRange",
    "SequentialTreeSynthesizer",
    "SynthResult",
    "SyntheticRelease",
    "check_release_inputs",
    "dp_mst",
    "exact_copies",
    "load_domains",
    "modelled_columns",
    "privacy_gate",
    "published_report",
    "synthesize",
    "synthetic_release",
    "undeclared_categories",
    "write_chart",
]
