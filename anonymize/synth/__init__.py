"""Synthetic microdata (SDV) with a quality report and privacy checks (DESIGN 7)."""

from anonymize.synth.privacy import exact_copies
from anonymize.synth.synthesizers import SYNTHESIZERS, SynthResult, synthesize

__all__ = ["SYNTHESIZERS", "SynthResult", "exact_copies", "synthesize"]
