"""What a release's columns hold, for schemas that state constraints: read once per file.

For each column: whether any value is missing (null, or written as an empty CSV field), its
least and greatest value where the type orders, and for text with few distinct values, those
values. Computed by one DuckDB pass over the file and cached per version of the file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from open_api.artifacts import ArtifactFacts, Column
from open_api.connections import connection
from open_api.filters import _FLOAT_TYPES, _INTEGER_TYPES
from open_api.queries import quote_identifier

#: Text columns with at most this many distinct values list them as an enum.
ENUM_LIMIT = 20

_lock = threading.Lock()
_profiles: dict[str, dict[str, ColumnProfile]] = {}


@dataclass(frozen=True)
class ColumnProfile:
    missing: int
    minimum: Any = None
    maximum: Any = None
    values: tuple[str, ...] | None = None


def _ordered(column: Column) -> bool:
    return (
        column.type in _INTEGER_TYPES
        or column.type in _FLOAT_TYPES
        or column.type.startswith("DECIMAL")
        or column.type == "DATE"
    )


def _missing_expression(column: Column) -> str:
    name = quote_identifier(column.name)
    if column.type in _FLOAT_TYPES:
        return f"count(*) FILTER (WHERE {name} IS NULL OR NOT isfinite({name}))"
    if column.type == "VARCHAR":
        return f"count(*) FILTER (WHERE {name} IS NULL OR {name} = '')"
    return f"count(*) FILTER (WHERE {name} IS NULL)"


def profile(facts: ArtifactFacts) -> dict[str, ColumnProfile]:
    """Column name to profile, for this version of the file."""
    with _lock:
        known = _profiles.get(facts.version_key)
    if known is not None:
        return known
    expressions: list[str] = []
    for column in facts.columns:
        name = quote_identifier(column.name)
        expressions.append(_missing_expression(column))
        if _ordered(column):
            finite = f" FILTER (WHERE isfinite({name}))" if column.type in _FLOAT_TYPES else ""
            expressions += [f"min({name}){finite}", f"max({name}){finite}"]
        if column.type == "VARCHAR":
            expressions.append(f"count(DISTINCT {name}) FILTER (WHERE {name} <> '')")
    con = connection()
    result = con.execute(
        f"SELECT {', '.join(expressions)} FROM read_parquet(?)", [facts.path]
    ).fetchone() if expressions else ()
    values = iter(result)
    profiles: dict[str, ColumnProfile] = {}
    for column in facts.columns:
        missing = int(next(values))
        low = high = None
        if _ordered(column):
            low, high = next(values), next(values)
        enum = None
        if column.type == "VARCHAR":
            distinct = int(next(values))
            if 0 < distinct <= ENUM_LIMIT:
                name = quote_identifier(column.name)
                enum = tuple(
                    value for (value,) in con.execute(
                        f"SELECT DISTINCT {name} FROM read_parquet(?) WHERE {name} <> '' "
                        f"ORDER BY {name}", [facts.path],
                    ).fetchall()
                )
        profiles[column.name] = ColumnProfile(missing, low, high, enum)
    with _lock:
        _profiles[facts.version_key] = profiles
    return profiles
