"""The airlock's thresholds, which each data custodian may set for its own data.

Defaults follow the common SDC guidance for research outputs (the SDAP/ONS handbook and
ACRO): a minimum of 10 units per cell and 10 residual degrees of freedom, the (2, 90 %)
dominance rule and a 10 % p-rule for magnitude tables (ACRO's ``safe_nk_n``, ``safe_nk_k``
and ``safe_pratio_p``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from anonymize.errors import AnonymizeError

TABLE_SUFFIXES = (".csv", ".parquet")
MODEL_SUFFIXES = (".json",)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class OutputThresholds:
    """Limits an output must meet to leave the room.

    >>> OutputThresholds.from_mapping({"min_cell_count": 5}).min_cell_count
    5
    """

    min_cell_count: int = 10
    #: Dominance (n, k): the n largest contributors may hold at most k % of a cell's total.
    dominance_n: int = 2
    dominance_k: float = 90.0
    #: p % rule: the second largest contributor must not estimate the largest within p %.
    p_percent: float = 10.0
    #: Zero cells can disclose that nobody in a group has an attribute (attribute disclosure).
    zeros_allowed: bool = False
    min_residual_df: int = 10
    max_file_bytes: int = 5_000_000
    max_rows: int = 1_000
    allowed_suffixes: tuple[str, ...] = (
        *TABLE_SUFFIXES, *MODEL_SUFFIXES, *FIGURE_SUFFIXES, *TEXT_SUFFIXES)

    def __post_init__(self) -> None:
        for name in ("min_cell_count", "dominance_n", "min_residual_df", "max_file_bytes",
                     "max_rows"):
            if getattr(self, name) < 1:
                raise AnonymizeError(f"output threshold {name} must be at least 1, "
                                     f"not {getattr(self, name)}")
        if not 0 < self.dominance_k <= 100:
            raise AnonymizeError(f"output threshold dominance_k must be in (0, 100], "
                                 f"not {self.dominance_k}")
        if not 0 < self.p_percent <= 100:
            raise AnonymizeError(f"output threshold p_percent must be in (0, 100], "
                                 f"not {self.p_percent}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> OutputThresholds:
        """Defaults overridden by a custodian's settings; an unknown name is an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise AnonymizeError(f"unknown output threshold(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(known))}")
        updates = dict(values)
        if "allowed_suffixes" in updates:
            updates["allowed_suffixes"] = tuple(str(s).lower() for s in
                                                updates["allowed_suffixes"])
        return replace(cls(), **updates)

    @classmethod
    def load(cls, path: Path, custodian: str | None = None) -> OutputThresholds:
        """Read ``[outputs]`` from a TOML file, then ``[outputs.<custodian>]`` over it."""
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise AnonymizeError(f"{path}: cannot read output thresholds: {exc}") from None
        section = dict(doc.get("outputs", {}))
        per_custodian = {k: section.pop(k) for k in list(section)
                         if isinstance(section[k], dict)}
        if custodian is not None:
            section.update(per_custodian.get(custodian, {}))
        return cls.from_mapping(section)
