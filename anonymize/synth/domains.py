"""Where DP-MST's column domains come from, so that reading them costs no privacy.

MST's guarantee covers its measurements only; a category list, a numeric range or the
(시도, 시군구) pairs read from the real rows would disclose what they contain (a rare
category, the oldest person's birth year) outside the epsilon. So a domain is one of:

- declared: categories or a :class:`NumericRange` the officer states (public metadata,
  a code list, a plausible range), or the public Korean administrative hierarchy for area
  columns;
- discovered with DP: a numeric range from two exponential-mechanism quantiles over a
  fixed grid, or a large declared candidate list (the pairs of two holders' areas) cut to
  the candidates whose Laplace-noised count clears a threshold. Either spends part of the
  epsilon, and the release says which columns did.

Unknown category labels cannot be discovered under pure epsilon-DP (it takes a delta), so an
undeclared text column is refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError

#: A declared candidate list longer than this is cut down with DP before modelling.
MAX_DIRECT_LEVELS = 2_000
#: Quantiles that bound a discovered numeric range (rows beyond are clamped to it).
RANGE_QUANTILES = (0.005, 0.995)


@dataclass(frozen=True)
class NumericRange:
    """A declared numeric domain; ``masses`` are values that deserve their own level (0)."""

    low: float
    high: float
    masses: tuple[float, ...] = ()
    decimals: int = 2

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise AnonymizeError(f"numeric range low {self.low} is above high {self.high}")


def range_grid() -> np.ndarray:
    """Candidate range ends, fixed before any data is read: 0 and +-{1, 1.05, ..., 9.95}
    x 10^-2..10^10 (steps of at most 5 %).

    >>> grid = range_grid()
    >>> bool(0.0 in grid and 1950.0 in grid and -250.0 in grid)
    True
    """
    mantissas = np.arange(1.0, 10.0, 0.05)
    positive = np.unique(np.round(np.outer(mantissas, 10.0 ** np.arange(-2, 11)).ravel(), 6))
    return np.concatenate([-positive[::-1], [0.0], positive])


def area_candidates(columns: Sequence[str], stems: Sequence[str],
                    units: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
    """Every combination of public (시도, 시군구) units over the area columns' holders.

    ``stems`` says which of ``columns`` is a ``sido`` and which a ``sigungu``; columns of one
    holder share the holder prefix and describe one unit.

    >>> area_candidates(["a__sido", "a__sigungu"], ["sido", "sigungu"],
    ...                 [("서울특별시", "종로구"), ("부산광역시", "중구")])
    [('서울특별시', '종로구'), ('부산광역시', '중구')]
    """
    holders: dict[str, list[int]] = {}
    for position, column in enumerate(columns):
        holders.setdefault(column[: len(column) - len(stems[position])], []).append(position)
    sidos = sorted({sido for sido, _ in units})
    per_holder = []
    for positions in holders.values():
        kinds = [stems[p] for p in positions]
        if "sigungu" in kinds:
            options = [tuple(sido if k == "sido" else sigungu for k in kinds)
                       for sido, sigungu in units]
        else:
            options = [tuple(sido for _ in kinds) for sido in sidos]
        per_holder.append((positions, options))
    out = []
    for choice in product(*(options for _, options in per_holder)):
        label = [""] * len(columns)
        for (positions, _), values in zip(per_holder, choice, strict=True):
            for p, v in zip(positions, values, strict=True):
                label[p] = v
        out.append(tuple(label))
    return out


def load_domains(path: Path) -> dict[str, list | NumericRange]:
    """Declared domains from TOML: ``[categories] col = [...]`` and ``[ranges] col =
    [low, high]`` or ``{low, high, masses = [0], decimals = 2}``."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AnonymizeError(f"{path}: cannot read declared domains: {exc}") from None
    unknown = sorted(set(doc) - {"categories", "ranges"})
    if unknown:
        raise AnonymizeError(f"{path}: unknown section(s) {', '.join(unknown)} "
                             "(known: categories, ranges)")
    out: dict[str, list | NumericRange] = {}
    for column, levels in doc.get("categories", {}).items():
        if not isinstance(levels, list) or not levels:
            raise AnonymizeError(f"{path}: categories of {column!r} must be a non-empty list")
        out[column] = levels
    for column, spec in doc.get("ranges", {}).items():
        try:
            if isinstance(spec, list):
                low, high = spec
                out[column] = NumericRange(float(low), float(high))
            else:
                out[column] = NumericRange(float(spec["low"]), float(spec["high"]),
                                           tuple(float(m) for m in spec.get("masses", ())),
                                           int(spec.get("decimals", 2)))
        except (KeyError, TypeError, ValueError) as exc:
            raise AnonymizeError(f"{path}: range of {column!r} must be [low, high] or "
                                 f"{{low, high, masses, decimals}}: {exc}") from None
    return out


def undeclared_categories(frame: pd.DataFrame, domains: Mapping[str, object] | None
                          ) -> list[str]:
    """Text columns of ``frame`` DP-MST would refuse: neither declared nor area columns
    (those take the public hierarchy). Checked before any budget is spent.

    >>> undeclared_categories(pd.DataFrame({"a__sido": ["x"], "kind": ["y"], "n": [1]}), {})
    ['kind']
    """
    declared = domains or {}
    return [str(c) for c in frame.columns if c not in declared
            and str(c).rsplit("__", 1)[-1] not in ("sido", "sigungu")
            and not (pd.api.types.is_numeric_dtype(frame[c])
                     and not pd.api.types.is_bool_dtype(frame[c]))]
