"""SQL for reading a release's rows, built only from names found in the file's own schema.

User input reaches DuckDB only as bound parameters; a column name is accepted only when it
matches a column of the artifact exactly, and is then quoted as an identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from open_api.artifacts import ArtifactFacts, Column
from open_api.errors import ApiError
from open_api.filters import is_text_comparable, parse_filter_value


def quote_identifier(name: str) -> str:
    """A column name as a DuckDB identifier.

    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


#: The column DuckDB adds with each row's position in the file.
_ORDINAL = "file_row_number"
#: The name of a row's 1-based position in the file, as CKAN's DataStore calls it.
ROW_ID = "_id"


def _has_ordinal(facts: ArtifactFacts) -> bool:
    """Whether DuckDB can add its row-position column (it cannot if the file has one)."""
    return facts.column(_ORDINAL) is None


@dataclass(frozen=True)
class RowQuery:
    """A filtered, optionally sorted selection of one artifact's rows (some or all columns)."""

    facts: ArtifactFacts
    where: str
    parameters: tuple[Any, ...]
    order_by: str
    selected: tuple[Column, ...] | None = None

    @property
    def columns(self) -> tuple[Column, ...]:
        """The columns the query returns, in order."""
        return self.facts.columns if self.selected is None else self.selected

    @property
    def in_file_order(self) -> bool:
        """Whether it is every row in file order: a page of it is a slice of the file."""
        return not self.where and self.order_by in ("", _ORDINAL)

    def select_sql(self, *, paged: bool, row_id: bool = False) -> tuple[str, list[Any]]:
        """SQL and parameters; ``row_id`` adds ``_id``, the row's 1-based position in the file."""
        names = [quote_identifier(c.name) for c in self.columns]
        if row_id and _has_ordinal(self.facts):
            names.insert(0, f"{_ORDINAL} + 1 AS _id")
        options = f", {_ORDINAL}=true" if _has_ordinal(self.facts) else ""
        source = f"read_parquet(?{options})"
        sql = f"SELECT {', '.join(names)} FROM {source}{self.where}"
        if self.order_by:
            sql += f" ORDER BY {self.order_by}"
        if paged:
            sql += " LIMIT ? OFFSET ?"
        return sql, [self.facts.path, *self.parameters]

    def count_sql(self) -> tuple[str, list[Any]]:
        return (
            f"SELECT count(*) FROM read_parquet(?){self.where}",
            [self.facts.path, *self.parameters],
        )


def known_column(facts: ArtifactFacts, name: str, parameter: str) -> Column:
    column = facts.column(name)
    if column is None:
        raise ApiError(
            "unknown_column",
            f"{parameter}: dataset has no column {name!r}",
            [{"parameter": parameter, "value": name}],
        )
    return column


def row_query(
    facts: ArtifactFacts,
    filters: Iterable[tuple[str, str]],
    sort: str | None,
    order: str,
) -> RowQuery:
    """The query for rows equal to every filter (a repeated column means any of its values)."""
    return build_query(facts, filters=filters, sort=[] if sort is None else [(sort, order)])


def build_query(
    facts: ArtifactFacts,
    *,
    filters: Iterable[tuple[str, str]] = (),
    sort: Sequence[tuple[str, str]] = (),
    search: str | None = None,
    select: Sequence[str] | None = None,
) -> RowQuery:
    """Rows equal to every filter, containing ``search`` in some text column, sorted by ``sort``.

    A repeated filter column means any of its values; ``sort`` is (column, asc|desc) pairs;
    ``select`` names the columns to return (all when None).
    """
    by_column: dict[str, list[Any]] = {}
    columns: dict[str, Column] = {}
    for name, text in filters:
        column = known_column(facts, name, name)
        columns[name] = column
        value = text if is_text_comparable(column.type) else parse_filter_value(column, text)
        by_column.setdefault(name, []).append(value)
    clauses: list[str] = []
    parameters: list[Any] = []
    for name, values in by_column.items():
        target = quote_identifier(name)
        if is_text_comparable(columns[name].type):
            target = f"CAST({target} AS VARCHAR)"
        clauses.append(f"{target} IN ({', '.join('?' for _ in values)})")
        parameters.extend(values)
    if search:
        texts = [c for c in facts.columns if c.type == "VARCHAR"]
        if texts:
            # contains(), not LIKE: a % or _ in the search text is matched literally.
            clauses.append("(" + " OR ".join(
                f"contains(lower({quote_identifier(c.name)}), ?)" for c in texts
            ) + ")")
            parameters.extend(search.lower() for _ in texts)
        else:
            clauses.append("false")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    # The row's position in the file keeps paging stable: ties on the sort columns keep file
    # order. A file with its own column of that name is read in scan order, which DuckDB keeps.
    order_by = [_ORDINAL] if _has_ordinal(facts) else []
    keys = []
    for name, direction in sort:
        keyword = "DESC" if direction == "desc" else "ASC"
        if name == ROW_ID and order_by and facts.column(ROW_ID) is None:
            keys.append(f"{_ORDINAL} {keyword}")  # CKAN's _id: the row's place in the file
            continue
        known_column(facts, name, "sort")
        keys.append(f"{quote_identifier(name)} {keyword} NULLS LAST")
    selected = None
    if select is not None:
        selected = tuple(known_column(facts, name, "fields") for name in select)
    return RowQuery(facts, where, tuple(parameters), ", ".join([*keys, *order_by]), selected)


def filter_pairs(
    query_items: Sequence[tuple[str, str]], reserved: Iterable[str]
) -> list[tuple[str, str]]:
    """The query parameters that are column filters: all but the endpoint's own parameters."""
    skip = set(reserved)
    return [(key, value) for key, value in query_items if key not in skip]
