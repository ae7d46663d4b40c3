"""Which of a release's parameters the public may see.

A DP-query release's parameters point at the microdata it answers from (``data``,
``data_sha256``), and a synthetic release's point at its quality chart (``chart``): the
server needs them, a consumer must not learn where anything lives on it. A synthetic
release's report compares real and synthetic rows: only its synthetic side is published.
Every face publishes parameters through :func:`public_parameters`, never directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anonymize import published_report

#: Parameters that describe the server's own storage, never published.
INTERNAL = frozenset({"data", "data_sha256", "source_sha256", "chart"})


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters without the internal ones; a synthetic release's quality report
    reduced to its synthetic side (``anonymize.published_report``), because the officer's
    copy holds exact statistics of the real rows.

    >>> public_parameters({"epsilon": 1.0, "data": "/srv/x.parquet"})
    {'epsilon': 1.0}
    """
    if "synthesizer" in parameters:
        parameters = published_report(parameters)
    return {k: v for k, v in parameters.items() if k not in INTERNAL}
