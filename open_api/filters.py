"""Equality filters: a query parameter's text parsed to its column's Parquet type.

One parser per family of DuckDB types, looked up in a table; a value that does not parse is
the client's mistake (400), never a database error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from open_api.artifacts import Column
from open_api.errors import ApiError

_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "REAL", "DOUBLE"}
_TIMESTAMP_TYPES = {
    "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE",
}


def _parse_bool(text: str) -> bool:
    """
    >>> _parse_bool("TRUE"), _parse_bool("0")
    (True, False)
    """
    lowered = text.strip().lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise ValueError(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)  # NaN equals nothing, so a NaN filter could only mislead
    return value


def _parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def parser_for(column_type: str) -> tuple[Callable[[str], Any], str]:
    """The parser for a column type, and how to name the expected format in an error.

    >>> parser_for("BIGINT")[0]("42")
    42
    >>> parser_for("DATE")[0]("2026-03-01")
    datetime.date(2026, 3, 1)
    """
    if column_type in _INTEGER_TYPES:
        return (lambda text: int(text.strip())), "an integer"
    if column_type in _FLOAT_TYPES:
        return _parse_float, "a number"
    if column_type.startswith("DECIMAL"):
        return _parse_decimal, "a decimal number"
    if column_type == "BOOLEAN":
        return _parse_bool, "true or false"
    if column_type == "DATE":
        return date.fromisoformat, "a date as YYYY-MM-DD"
    if column_type in _TIMESTAMP_TYPES:
        return datetime.fromisoformat, "an ISO 8601 date and time"
    return str, "text"


def is_text_comparable(column_type: str) -> bool:
    """Whether the column is compared as itself (known type) or through its text form."""
    known = _INTEGER_TYPES | _FLOAT_TYPES | _TIMESTAMP_TYPES | {"BOOLEAN", "DATE", "VARCHAR"}
    return column_type not in known and not column_type.startswith("DECIMAL")


def parse_filter_value(column: Column, text: str) -> Any:
    """``text`` as a value of ``column``'s type, or a 400 naming the column and the format."""
    parse, expected = parser_for(column.type)
    try:
        return parse(text)
    except (ValueError, TypeError, OverflowError):
        raise ApiError(
            "bad_filter_value",
            f"filter on column {column.name!r} expects {expected} ({column.type}), got {text!r}",
            [{"parameter": column.name, "type": column.type, "value": text}],
        ) from None
