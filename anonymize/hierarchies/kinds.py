"""Hierarchies by name: the kinds a user can ask for (``--hierarchy col=kind``) and the guess
for common Korean public-data columns when none is given."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.admin_hierarchy import AdminAreaHierarchy
from anonymize.hierarchies.bands import age_hierarchy, birth_year_hierarchy, income_hierarchy
from anonymize.hierarchies.base import CategoryHierarchy, Hierarchy
from anonymize.hierarchies.dates import DateHierarchy

#: Incomes above this share of the data are top-coded when the top is not given.
INCOME_TOP_QUANTILE = 0.99
INCOME_TOP_STEP = 10_000_000


def _income(frame: pd.DataFrame, column: str, arg: str | None) -> Hierarchy:
    if arg:
        return income_hierarchy(top=float(arg))
    values = pd.to_numeric(frame[column], errors="coerce").dropna()
    if values.empty:
        return income_hierarchy()
    # Rounded up to a whole 1,000만 so the published top code does not reveal the quantile.
    top = math.ceil(values.quantile(INCOME_TOP_QUANTILE) / INCOME_TOP_STEP) * INCOME_TOP_STEP
    return income_hierarchy(top=max(top, INCOME_TOP_STEP))


#: kind -> factory(frame, column, argument after ':' or None)
KINDS: dict[str, Callable[[pd.DataFrame, str, str | None], Hierarchy]] = {
    "emd": lambda f, c, a: AdminAreaHierarchy("읍면동"),
    "sigungu": lambda f, c, a: AdminAreaHierarchy("시군구", sido_column=a),
    "sido": lambda f, c, a: AdminAreaHierarchy("시도"),
    "age": lambda f, c, a: age_hierarchy(int(a) if a else 85),
    "birth_year": lambda f, c, a: birth_year_hierarchy(int(a) if a else dt.date.today().year),
    "date": lambda f, c, a: DateHierarchy(),
    "income": _income,
    "category": lambda f, c, a: CategoryHierarchy(),
}

_NAME_RULES = (
    (r"(bjd|emd|legal_?dong|beopjeongdong)", "emd"),
    (r"sigungu", "sigungu"),
    (r"sido", "sido"),
    (r"(birth_?year|byear)", "birth_year"),
    (r"age", "age"),
    (r"(date|dob|_dt$|_day$)", "date"),
    (r"(income|salary|earning|wage)", "income"),
)


def hierarchy_from_spec(frame: pd.DataFrame, column: str, spec: str) -> Hierarchy:
    """A hierarchy from ``kind`` or ``kind:argument`` (``sigungu:ssis__sido``, ``income:1e8``,
    ``birth_year:2025``).

    >>> frame = pd.DataFrame({"a": ["11"]})
    >>> hierarchy_from_spec(frame, "a", "sido").levels
    ('시도', '전국')
    """
    kind, _, arg = spec.partition(":")
    if kind not in KINDS:
        raise AnonymizeError(f"column {column!r}: unknown hierarchy kind {kind!r} "
                             f"(kinds: {', '.join(KINDS)})")
    try:
        return KINDS[kind](frame, column, arg or None)
    except ValueError as exc:
        raise AnonymizeError(f"column {column!r}: bad argument in hierarchy {spec!r}: "
                             f"{exc}") from None


def infer_kind(frame: pd.DataFrame, column: str) -> str:
    """The hierarchy kind for a column, from its name (the part after ``holder__``) or dtype;
    a 시군구 column gets its 시도 from a sibling ``…sido`` column when there is one.

    >>> frame = pd.DataFrame(columns=["ssis__sido", "ssis__sigungu", "ssis__birth_year",
    ...                               "ssis__income", "ssis__sex"])
    >>> [infer_kind(frame, c) for c in frame.columns]
    ['sido', 'sigungu:ssis__sido', 'birth_year', 'income', 'category']
    """
    name = column.rsplit("__", 1)[-1].lower()
    if pd.api.types.is_datetime64_any_dtype(frame[column]):
        return "date"
    for pattern, kind in _NAME_RULES:
        if re.search(pattern, name):
            if kind == "sigungu":
                prefix = column[: len(column) - len(name)]
                sido = next((c for c in frame.columns
                             if c.startswith(prefix) and c[len(prefix):].lower() == "sido"), None)
                return f"sigungu:{sido}" if sido else "sigungu"
            return kind
    sample = frame[column].dropna().astype(str).head(1000)
    if len(sample) and sample.str.fullmatch(r"\d{10}").all():
        return "emd"
    return "category"


def infer_hierarchies(frame: pd.DataFrame, columns: list[str],
                      given: dict[str, str] | None = None) -> dict[str, Hierarchy]:
    """A hierarchy for every column: the given kind where there is one, else the guess."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(columns))
    if unknown:
        raise AnonymizeError(f"hierarchy given for {unknown[0]!r}, which is not a "
                             f"quasi-identifier")
    return {col: hierarchy_from_spec(frame, col, given.get(col) or infer_kind(frame, col))
            for col in columns}
