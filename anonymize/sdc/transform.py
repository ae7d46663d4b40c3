"""Transformations that make a table safer, each recorded so a release can show its processing.

``Processing`` holds a working copy of the table and a list of ``ProcessingStep``s: what was
done, to which columns, with which parameters, and how many records and cells it changed.

>>> import pandas as pd
>>> from anonymize.hierarchies import age_hierarchy
>>> p = Processing(pd.DataFrame({"age": [37, 87, 41], "income": [1200, 98000, 5100]}))
>>> p.generalise("age", age_hierarchy(), "10-year").top_code("income", 50000).frame
     age  income
0  30-39    1200
1    80+   50000
2  40-49    5100
>>> [(s.action, s.cells_changed) for s in p.steps]
[('generalise', 3), ('top_code', 1)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import SUPPRESSED, Hierarchy


@dataclass(frozen=True)
class ProcessingStep:
    """One transformation as a release shows it."""

    action: str
    columns: list[str]
    parameters: dict = field(default_factory=dict)
    records_changed: int = 0  # records with at least one changed cell, or removed
    cells_changed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Cells whose value differs (a missing value staying missing is no change)."""
    both_missing = before.isna().to_numpy() & after.isna().to_numpy()
    same = before.astype(object).to_numpy() == after.astype(object).to_numpy()
    return ~(same | both_missing)


class Processing:
    """A table under transformation and the record of what was done to it."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.copy()
        self.steps: list[ProcessingStep] = []

    def _column(self, column: str) -> pd.Series:
        if column not in self.frame.columns:
            raise AnonymizeError(f"column {column!r} is not in the data")
        return self.frame[column]

    def _replace(self, action: str, column: str, new: pd.Series, **parameters) -> Processing:
        changed = _changed(self.frame[column], new)
        self.frame[column] = new
        self.steps.append(ProcessingStep(action, [column], parameters,
                                         int(changed.sum()), int(changed.sum())))
        return self

    def generalise(self, column: str, hierarchy: Hierarchy, level: int | str) -> Processing:
        """Replace a column by its labels at a hierarchy level."""
        index = hierarchy.level_index(level)
        values = hierarchy.prepare(self.frame, column)
        return self._replace("generalise", column, hierarchy.generalise(values, index),
                             hierarchy=hierarchy.kind, level=hierarchy.levels[index])

    def top_code(self, column: str, top: float) -> Processing:
        """Values above ``top`` become ``top`` (for incomes, ages: the rare extremes)."""
        values = pd.to_numeric(self._column(column), errors="raise")
        return self._replace("top_code", column, values.where(values.isna() | (values <= top),
                                                              top), top=top)

    def bottom_code(self, column: str, bottom: float) -> Processing:
        """Values below ``bottom`` become ``bottom``."""
        values = pd.to_numeric(self._column(column), errors="raise")
        return self._replace("bottom_code", column,
                             values.where(values.isna() | (values >= bottom), bottom),
                             bottom=bottom)

    def round(self, column: str, base: float) -> Processing:
        """Round to the nearest multiple of ``base`` (e.g. incomes to 100,000 won).

        >>> Processing(pd.DataFrame({"x": [1234, 1250, 1299]})).round("x", 100).frame["x"].tolist()
        [1200, 1200, 1300]
        """
        if base <= 0:
            raise AnonymizeError(f"rounding base must be positive, got {base}")
        values = pd.to_numeric(self._column(column), errors="raise")
        rounded = (values / base).round() * base
        if pd.api.types.is_integer_dtype(values) and float(base).is_integer():
            rounded = rounded.astype(values.dtype)
        return self._replace("round", column, rounded, base=base)

    def add_noise(self, column: str, scale: float, *, seed: int | None = None,
                  distribution: str = "laplace", rng: np.random.Generator | None = None,
                  ) -> Processing:
        """Add independent zero-mean noise of the given scale (Laplace or Gaussian sd).

        The seed is recorded so the release can be reproduced by whoever holds the original;
        it must not be published with the release if the noise is meant to hide values.
        """
        if scale < 0:
            raise AnonymizeError(f"noise scale must not be negative, got {scale}")
        values = pd.to_numeric(self._column(column), errors="raise").astype(float)
        rng = rng or np.random.default_rng(seed)
        draw = rng.laplace if distribution == "laplace" else rng.normal
        if distribution not in ("laplace", "gaussian"):
            raise AnonymizeError(f"noise distribution must be laplace or gaussian, "
                                 f"got {distribution!r}")
        noisy = values + draw(0.0, scale, len(values))
        return self._replace("add_noise", column, noisy.where(values.notna()),
                             scale=scale, distribution=distribution, seed=seed)

    def mask(self, column: str, *, keep_start: int = 0, keep_end: int = 0,
             char: str = "*") -> Processing:
        """Mask the characters of a text value except the first/last few (postcodes, names).

        >>> p = Processing(pd.DataFrame({"postcode": ["06236", None]}))
        >>> p.mask("postcode", keep_start=3).frame["postcode"].tolist()
        ['062**', None]
        """
        values = self._column(column).astype("string")
        length = values.str.len()
        middle = (length - keep_start - keep_end).clip(lower=0)
        head = values.str[:keep_start]
        tail = values.str[-keep_end:] if keep_end else ""
        masked = head + middle.map(lambda n: char * int(n) if pd.notna(n) else None) + tail
        masked = masked.astype(object).where(values.notna(), None)
        return self._replace("mask", column, masked, keep_start=keep_start, keep_end=keep_end)

    def suppress_cells(self, column: str, where: pd.Series | np.ndarray, *,
                       reason: str = "") -> Processing:
        """Replace the marked cells of a column by ``*`` (local suppression)."""
        mask = np.asarray(where, dtype=bool)
        values = self._column(column).astype(object)
        return self._replace("suppress_cells", column, values.where(~mask, SUPPRESSED),
                             reason=reason)

    def suppress_records(self, where: pd.Series | np.ndarray, *, reason: str = "",
                         columns: list[str] | None = None) -> Processing:
        """Remove the marked records (record suppression), or, with ``columns``, set those
        columns of the marked records to ``*`` (as ARX does)."""
        mask = np.asarray(where, dtype=bool)
        if len(mask) != len(self.frame):
            raise AnonymizeError(f"suppression mask has {len(mask)} rows, data has "
                                 f"{len(self.frame)}")
        count = int(mask.sum())
        if columns:
            for col in columns:
                self.frame[col] = self._column(col).astype(object).where(~mask, SUPPRESSED)
            self.steps.append(ProcessingStep("suppress_records", list(columns),
                                             {"reason": reason, "how": "mask"}, count,
                                             count * len(columns)))
        else:
            self.frame = self.frame.loc[~mask].reset_index(drop=True)
            self.steps.append(ProcessingStep("suppress_records", [], {"reason": reason,
                                             "how": "remove"}, count,
                                             count * self.frame.shape[1]))
        return self

    def drop_columns(self, columns: list[str], *, reason: str = "") -> Processing:
        """Remove columns (direct identifiers such as the link id in a take-out file)."""
        for col in columns:
            self._column(col)
        self.frame = self.frame.drop(columns=columns)
        self.steps.append(ProcessingStep("drop_columns", list(columns), {"reason": reason},
                                         0, 0))
        return self
