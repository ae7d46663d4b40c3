"""Fuzzy mode (DESIGN 5): typo-tolerant linkage on keyed Bloom filters, scored by a
Fellegi-Sunter model fitted by EM. No identifier leaves the holder in plaintext.

``linkage.prepare`` and ``linkage.link`` pick this mode's strategies (:class:`FuzzyKeys`,
:func:`link`) from ``linkage.modes.MODES`` when a project's mode is "fuzzy"; nothing in
exact mode imports it.
"""

from linkage.fuzzy.link import FuzzyLinkReport, link, score_candidates
from linkage.fuzzy.params import FuzzyParams, params_for
from linkage.fuzzy.prepare import FuzzyKeys, encode_identifiers

__all__ = ["FuzzyKeys", "FuzzyLinkReport", "FuzzyParams", "encode_identifiers", "link",
           "params_for", "score_candidates"]
