"""What a DP query asks and what the data it runs on declares up front.

Everything a mechanism's noise depends on (clamping bounds, group keys, the privacy unit and
its contribution bound) is declared here, before any data is read: bounds or keys taken from
the data itself would leak through the noise scale or the set of released cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from anonymize.errors import AnonymizeError

STATISTICS = ("count", "sum", "mean", "variance", "quantile", "histogram")
#: Statistics that may be broken down by declared keys.
GROUPABLE = ("count", "sum", "histogram")


@dataclass(frozen=True)
class DPSchema:
    """The public, data-independent description of a dataset open to DP queries.

    >>> DPSchema(bounds={"age": (0, 120)}, keys={"sex": ["F", "M"]}).bounds_of("age")
    (0, 120)
    """

    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    keys: dict[str, list[Any]] = field(default_factory=dict)
    privacy_unit: str | None = "link_id"
    max_contributions: int = 1

    def __post_init__(self) -> None:
        if int(self.max_contributions) != self.max_contributions or self.max_contributions < 1:
            raise AnonymizeError(f"max_contributions must be a positive integer, "
                                 f"got {self.max_contributions!r}")
        for column, pair in self.bounds.items():
            lower, upper = pair
            if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
                raise AnonymizeError(f"clamping bounds of column {column!r} must be finite "
                                     f"with lower < upper, got ({lower!r}, {upper!r})")
        for column, values in self.keys.items():
            if len(values) == 0:
                raise AnonymizeError(f"declared keys of column {column!r} are empty")
            if len(set(values)) != len(values):
                raise AnonymizeError(f"declared keys of column {column!r} repeat a value")

    @property
    def d_in(self) -> int:
        """Symmetric distance between neighbouring datasets once contributions are bounded."""
        return int(self.max_contributions) if self.privacy_unit is not None else 1

    def bounds_of(self, column: str) -> tuple[float, float]:
        if column not in self.bounds:
            raise AnonymizeError(f"column {column!r} has no declared clamping bounds: a privacy "
                                 "officer must declare its lower and upper bound first")
        return self.bounds[column]

    def keys_of(self, column: str) -> list[Any]:
        if column not in self.keys:
            raise AnonymizeError(f"column {column!r} has no declared keys: group-by and "
                                 "histogram queries need the full set of values up front")
        return list(self.keys[column])


#: The smallest epsilon any query may spend. Below it the noise of every statistic is so
#: wide that an answer says nothing, and its arithmetic leaves the range of the numbers
#: that carry it (a count at 1e-300 saturated at -9.2e18); statistics whose noise cannot
#: be calibrated at a larger epsilon are refused with their own floor (anonymize.dp.floor).
MIN_EPSILON = 1e-9


@dataclass(frozen=True)
class DPQuery:
    """One statistic at one epsilon.

    >>> DPQuery("quantile", column="income", epsilon=0.5, quantile=0.9).describe()["quantile"]
    0.9
    """

    statistic: str
    epsilon: float
    column: str | None = None
    by: tuple[str, ...] = ()
    quantile: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", tuple(self.by))
        if self.statistic not in STATISTICS:
            raise AnonymizeError(f"statistic {self.statistic!r} is not one of "
                                 f"{', '.join(STATISTICS)}")
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps) \
                or eps <= 0:
            raise AnonymizeError(f"epsilon must be a positive finite number, got {eps!r}")
        if eps < MIN_EPSILON:
            raise AnonymizeError(f"epsilon {eps:g} is below the smallest allowed, "
                                 f"{MIN_EPSILON:g}")
        if self.statistic != "count" and not self.column:
            raise AnonymizeError(f"statistic {self.statistic!r} needs a column")
        if self.by and self.statistic not in GROUPABLE:
            raise AnonymizeError(f"statistic {self.statistic!r} cannot be grouped; only "
                                 f"{', '.join(GROUPABLE)} take 'by'")
        if self.statistic == "histogram" and self.by:
            raise AnonymizeError("a histogram is over its column's declared categories; "
                                 "use count with 'by' for a cross table")
        if len(set(self.by)) != len(self.by):
            raise AnonymizeError(f"'by' repeats a column: {list(self.by)}")
        if not (0.0 < self.quantile < 1.0):
            raise AnonymizeError(f"quantile must lie strictly between 0 and 1, "
                                 f"got {self.quantile!r}")

    @property
    def group_columns(self) -> tuple[str, ...]:
        return (self.column,) if self.statistic == "histogram" else self.by  # type: ignore[return-value]

    def describe(self) -> dict[str, Any]:
        """The query as the budget ledger records it."""
        doc: dict[str, Any] = {"statistic": self.statistic, "epsilon": float(self.epsilon)}
        if self.column:
            doc["column"] = self.column
        if self.by:
            doc["by"] = list(self.by)
        if self.statistic == "quantile":
            doc["quantile"] = self.quantile
        return doc
