"""Which of a release's parameters the public may see.

A DP-query release's parameters point at the microdata it answers from (``data``,
``data_sha256``), and a synthetic release's point at its quality chart (``chart``): the
server needs them, a consumer must not learn where anything lives on it.
Every face publishes parameters through :func:`public_parameters`, never directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Parameters that describe the server's own storage, never published.
INTERNAL = frozenset({"data", "data_sha256", "chart"})


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters without the internal ones.

    >>> public_parameters({"epsilon": 1.0, "data": "/srv/x.parquet"})
    {'epsilon': 1.0}
    """
    return {k: v for k, v in parameters.items() if k not in INTERNAL}
