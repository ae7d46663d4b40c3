"""Numeric bands: age, birth year and income, with top and bottom coding.

Each level is a band width; a value at or above the top code falls in one open band ``T+``
and one below the bottom code in ``<B``. At coarser widths the codes move to the band edge
(85+ at 5-year bands becomes 80+ at 10-year bands), so that every band still lies inside one
band of the next level, as the search requires.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import SUPPRESSED, Hierarchy


def _plain(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"


def _manwon(value: float) -> str:
    """Won as 만원 (10,000 won), the unit Korean statistics report incomes in; exact won when
    the amount is not a whole 만원, so that no label rounds a value away."""
    if value % 10_000:
        return f"{value:,.0f}원"
    return f"{value / 10_000:,.0f}만"


class BandHierarchy(Hierarchy):
    """Exact value, optionally top/bottom coded, then bands of growing width, then ``*``.

    >>> age = BandHierarchy((5, 10, 20), top=85, unit="year")
    >>> age.levels
    ('exact', 'top-coded', '5-year', '10-year', '20-year', '*')
    >>> ages = pd.Series([37, 87, 4])
    >>> age.generalise(ages, "5-year").tolist()
    ['35-39', '85+', '0-4']
    >>> age.generalise(ages, "10-year").tolist()
    ['30-39', '80+', '0-9']
    >>> age.generalise(ages, "top-coded").tolist()
    ['37', '85+', '4']
    """

    kind = "bands"

    def __init__(self, widths: Sequence[float], *, top: float | None = None,
                 bottom: float | None = None, unit: str = "", origin: float = 0,
                 label: Callable[[float], str] = _plain, inclusive: bool = True,
                 names: Sequence[str] | None = None):
        widths = list(widths)
        if not widths or any(w <= 0 for w in widths):
            raise AnonymizeError(f"band widths must be positive, got {widths}")
        for fine, coarse in itertools.pairwise(widths):
            if coarse % fine:
                # A 15-year band cannot contain whole 10-year bands: the levels would not nest.
                raise AnonymizeError(f"band width {coarse} is not a multiple of {fine}")
        self.widths, self.top, self.bottom = widths, top, bottom
        self.origin, self.label = origin, label
        coded = ["top-coded"] if top is not None or bottom is not None else []
        if coded and top is not None and bottom is not None:
            coded = ["top/bottom-coded"]
        names = list(names or (f"{_plain(w)}-{unit}" if unit else f"width {_plain(w)}"
                               for w in widths))
        # Whole-number bands read "35-39"; bands of money read as half-open "1,000만~2,000만".
        self.inclusive = inclusive
        self.levels = ("exact", *coded, *names, SUPPRESSED)
        self._coded = bool(coded)

    def describe(self) -> dict:
        return {**super().describe(), "widths": self.widths, "top": self.top,
                "bottom": self.bottom}

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            first = values[bad].iloc[0]
            raise AnonymizeError(f"value {first!r} of column {values.name!r} is not a number")
        x = numbers.to_numpy(dtype=float)
        width = None if self._coded and level == 1 else self.widths[level - 1 - self._coded]
        if width is None:
            labels = np.array([self.label(v) if not math.isnan(v) else "" for v in x], dtype=object)
            top, bottom = self.top, self.bottom
        else:
            lo = np.floor((x - self.origin) / width) * width + self.origin
            hi = lo + width
            integral = float(width).is_integer() and float(self.origin).is_integer()
            upper = hi - 1 if integral and self.inclusive else hi
            labels = self._band_labels(lo, upper, width)
            top = None if self.top is None else (
                math.floor((self.top - self.origin) / width) * width + self.origin)
            bottom = None if self.bottom is None else (
                math.ceil((self.bottom - self.origin) / width) * width + self.origin)
        if top is not None:
            labels = np.where(x >= top, f"{self.label(top)}+", labels)
        if bottom is not None:
            labels = np.where(x < bottom, f"<{self.label(bottom)}", labels)
        return pd.Series(labels, index=values.index, dtype=object)

    def _band_labels(self, lo: np.ndarray, upper: np.ndarray, width: float) -> np.ndarray:
        # Label the distinct bands once: a column has far fewer bands than rows.
        finite = ~np.isnan(lo)
        out = np.full(len(lo), "", dtype=object)
        if not finite.any():
            return out
        starts, inverse = np.unique(lo[finite], return_inverse=True)
        ends = starts + (upper[finite][0] - lo[finite][0])
        if width == 1 and self.label is _plain:
            names = np.array([self.label(s) for s in starts], dtype=object)
        else:
            sep = "-" if self.inclusive else "~"
            names = np.array([f"{self.label(s)}{sep}{self.label(e)}"
                              for s, e in zip(starts, ends, strict=True)], dtype=object)
        out[finite] = names[inverse]
        return out


def age_hierarchy(top: int = 85) -> BandHierarchy:
    """Age in years: exact, top-coded at ``top``+, then 5, 10 and 20-year bands.

    >>> age_hierarchy().generalise(pd.Series([37, 87]), "5-year").tolist()
    ['35-39', '85+']
    """
    h = BandHierarchy((5, 10, 20), top=top, unit="year")
    h.kind = "age"
    return h


def birth_year_hierarchy(reference_year: int, top_age: int = 85) -> BandHierarchy:
    """Birth year: exact, bottom-coded for those ``top_age`` or older in ``reference_year``,
    then 5, 10 and 20-year bands.

    >>> h = birth_year_hierarchy(2025)
    >>> h.generalise(pd.Series([1987, 1931]), "10-year").tolist()
    ['1980-1989', '<1950']
    >>> h.generalise(pd.Series([1987, 1931]), "top-coded").tolist()
    ['1987', '<1941']
    """
    h = BandHierarchy((5, 10, 20), bottom=reference_year - top_age + 1, unit="year")
    h.kind = "birth_year"
    return h


def income_hierarchy(*, top: float | None = None, bottom: float | None = None,
                     widths: Sequence[float] = (1_000_000, 5_000_000, 10_000_000, 50_000_000),
                     ) -> BandHierarchy:
    """Income in won: exact, top/bottom coded, then bands (labelled in 만원).

    >>> h = income_hierarchy(top=100_000_000)
    >>> h.levels[2:]
    ('100만', '500만', '1000만', '5000만', '*')
    >>> h.generalise(pd.Series([17_150_000, 293_480_000]), "1000만").tolist()
    ['1,000만~2,000만', '10,000만+']
    """
    names = [f"{w / 10_000:g}만" for w in widths]
    h = BandHierarchy(widths, top=top, bottom=bottom, label=_manwon, inclusive=False,
                      names=names)
    h.kind = "income"
    return h


class RoundingHierarchy(BandHierarchy):
    """Not a separate kind: rounding to a base is a band of that width labelled by its start.

    >>> h = RoundingHierarchy((1000, 10000))
    >>> h.generalise(pd.Series([12345, 5]), 1).tolist()
    ['12000', '0']
    """

    kind = "rounding"

    def _band_labels(self, lo: np.ndarray, upper: np.ndarray, width: float) -> np.ndarray:
        return np.array([self.label(v) if not math.isnan(v) else "" for v in lo], dtype=object)
