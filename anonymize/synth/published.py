"""What of a synthetic release's report may be published with it.

The report an officer reads (:meth:`SyntheticRelease.report`) compares real and synthetic
side by side: real regression coefficients and cross-tab percentages, SDMetrics scores and the
gate's distances, all exact functions of the real rows and none protected (a cross-tab cell
of 세종 can say "one person in six"). Published metadata keeps only what is computed from the
synthetic rows (post-processing of the release itself), the gate's verdict and thresholds, and
parameters fixed before the data was read. Anything the report may gain later stays private
until it is listed here: the lists are allow-lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keys of :meth:`SyntheticRelease.report`; the public face rebuilds each of them.
REPORT_KEYS = frozenset({
    "synthesizer", "rows", "quality_score", "quality", "utility", "privacy_gate",
    "fit_seconds", "sample_seconds", "dropped_columns", "constraints", "epsilon", "dp",
    "exact_copies_redrawn"})

#: Chosen by the officer or fixed by the catalog's classification and column names.
DECLARED = ("synthesizer", "rows", "dropped_columns", "constraints", "epsilon")

#: DP facts that depend on the privacy parameters or on noisy choices only.
DP_PUBLIC = ("epsilon_spent", "mechanism", "tree", "domains", "domain_from_data",
             "rows_per_person")


def published_report(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` with the synthetic report's keys reduced to their public part.

    Keys that are not the report's (a licence, the catalog's own settings) pass unchanged.

    >>> published_report({"rows": 5, "licence": "kogl-1", "quality_score": 0.9,
    ...                   "utility": {"crosstab": {"rows": "sido", "columns": "kind",
    ...                   "real_percent": {"세종": {"a": 16.67}},
    ...                   "synthetic_percent": {"세종": {"a": 20.0}}, "max_gap_points": 3.3}}})
    {'rows': 5, 'utility': {'crosstab': {'rows': 'sido', 'columns': 'kind', \
'synthetic_percent': {'세종': {'a': 20.0}}}}, 'licence': 'kogl-1'}
    """
    out: dict[str, Any] = {k: parameters[k] for k in DECLARED if k in parameters}
    if "utility" in parameters:
        out["utility"] = _synthetic_utility(parameters["utility"] or {})
    if "privacy_gate" in parameters:
        gate = parameters["privacy_gate"] or {}
        out["privacy_gate"] = {"passed": gate.get("passed"),
                               "thresholds": gate.get("thresholds")}
        if gate.get("applied") is False:  # a DP release, published as drawn
            out["privacy_gate"] = {k: gate.get(k) for k in ("applied", "passed", "reason")}
    if parameters.get("dp"):
        out["dp"] = {k: parameters["dp"][k] for k in DP_PUBLIC if k in parameters["dp"]}
    out.update({k: v for k, v in parameters.items() if k not in REPORT_KEYS})
    return out


def _synthetic_utility(utility: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    regression = utility.get("regression")
    if regression:
        out["regression"] = {
            "model": regression.get("model"),
            "coefficients": {name: {"synthetic": pair.get("synthetic")}
                             for name, pair in regression.get("coefficients", {}).items()},
            "r2": {"synthetic": (regression.get("r2") or {}).get("synthetic")},
        }
    crosstab = utility.get("crosstab")
    if crosstab:
        out["crosstab"] = {"rows": crosstab.get("rows"), "columns": crosstab.get("columns"),
                           "synthetic_percent": crosstab.get("synthetic_percent")}
    return out
