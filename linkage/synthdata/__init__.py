"""Realistic, entirely fake Korean data for tests, demos and benchmarks.

``generate`` writes a social-security holder file, a building register that covers part of
the same people with its own identifier formats and a controlled rate of identifier errors,
the true pairs between them, and a project spec for linking them. Generation is vectorised
and streamed in chunks, seeded per chunk, so ten million people fit in flat memory and a seed
always gives the same bytes.
"""

from linkage.synthdata.combined import combined_by_truth
from linkage.synthdata.generate import SynthDataReport, generate
from linkage.synthdata.mistakes import ERROR_KINDS
from linkage.synthdata.welfare import BENEFIT_TYPES

__all__ = ["BENEFIT_TYPES", "ERROR_KINDS", "SynthDataReport", "combined_by_truth", "generate"]
