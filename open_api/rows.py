"""Reading one page of a query's rows, the way every face asks for them.

A page of all rows in file order comes from the in-memory copy of the release when it fits
(a slice: constant time at any offset); anything filtered or sorted is one DuckDB query on
the thread's connection. The total of an unfiltered query is the row count already known.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from open_api.connections import connection
from open_api.queries import RowQuery
from open_api.table_cache import TableCache

BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Page:
    names: list[str]
    rows: list[tuple[Any, ...]]
    total: int | None  # None when the caller did not ask for it

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.names, row, strict=True)) for row in self.rows]


def fetch_page(
    query: RowQuery,
    limit: int,
    offset: int,
    cache: TableCache | None = None,
    *,
    with_total: bool = True,
    row_id: bool = False,
) -> Page:
    """Rows ``offset`` to ``offset + limit`` of the query, with the count of all it matches."""
    names = [c.name for c in query.columns]
    if row_id:
        names.insert(0, "_id")
    total: int | None = None
    if with_total and not query.where:
        total = query.facts.row_count
    if query.in_file_order and cache is not None:
        table = cache.table(query.facts)
        if table is not None:
            return _slice(table, query, names, limit, offset, total, row_id)
    con = connection()
    if with_total and total is None:
        count_sql, count_parameters = query.count_sql()
        (total,) = con.execute(count_sql, count_parameters).fetchone()
    sql, parameters = query.select_sql(paged=True, row_id=row_id)
    rows = con.execute(sql, [*parameters, limit, offset]).fetchall()
    return Page(names, rows, None if total is None else int(total))


def cached_page(
    query: RowQuery,
    limit: int,
    offset: int,
    cache: TableCache,
    *,
    with_total: bool = True,
    row_id: bool = False,
) -> Page | None:
    """The page as :func:`fetch_page` makes it when it is a slice of a release already in
    memory, else None. Never reads a file or queries DuckDB: an ``async`` handler calls it
    on the event loop and goes to a thread only when it answers None."""
    if not query.in_file_order:
        return None
    table = cache.cached(query.facts)
    if table is None:
        return None
    names = [c.name for c in query.columns]
    if row_id:
        names.insert(0, "_id")
    total = query.facts.row_count if with_total else None
    return _slice(table, query, names, limit, offset, total, row_id)


def _slice(table: pa.Table, query: RowQuery, names: list[str], limit: int, offset: int,
           total: int | None, row_id: bool) -> Page:
    sliced = table.slice(offset, limit).select([c.name for c in query.columns])
    columns = [sliced.column(i).to_pylist() for i in range(sliced.num_columns)]
    if row_id:
        columns.insert(0, list(range(offset + 1, offset + 1 + sliced.num_rows)))
    return Page(names, list(zip(*columns, strict=True)), total)


def iter_rows(query: RowQuery, *, row_id: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """All the query's rows, in batches; for streamed downloads of any size."""
    from open_api.connections import cursor

    sql, parameters = query.select_sql(paged=False, row_id=row_id)
    # A cursor of its own: the stream outlives the request thread's turn with its cursor.
    con = cursor()
    try:
        result = con.execute(sql, parameters)
        while batch := result.fetchmany(BATCH_ROWS):
            yield batch
    finally:
        con.close()
