"""Dates: day -> month -> year -> ``*``."""

from __future__ import annotations

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import SUPPRESSED, Hierarchy


class DateHierarchy(Hierarchy):
    """A date (or a ``YYYY-MM-DD`` / ``YYYYMMDD`` string) as day, month or year.

    >>> h = DateHierarchy()
    >>> s = pd.Series(["2024-03-15", "20231201", None])
    >>> h.generalise(s, "month").tolist()
    ['2024-03', '2023-12', None]
    >>> h.generalise(s, "year").tolist()
    ['2024', '2023', None]
    """

    kind = "date"
    levels = ("day", "month", "year", SUPPRESSED)

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        dates = _to_dates(values)
        fmt = "%Y-%m" if self.levels[level] == "month" else "%Y"
        return dates.dt.strftime(fmt).astype(object)


def _to_dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype("string").str.strip()
    compact = text.str.fullmatch(r"\d{8}").fillna(False)
    parsed = pd.to_datetime(text.where(~compact), format="%Y-%m-%d", errors="coerce")
    parsed = parsed.fillna(pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = bad.to_numpy().nonzero()[0][0]
        raise AnonymizeError(f"column {values.name!r}, row {row + 1}: "
                             f"{values.iloc[row]!r} is not a date (YYYY-MM-DD or YYYYMMDD)")
    return parsed
