"""One DuckDB connection per server thread, opened once and reused.

Opening a connection costs more than a small query; a DuckDB connection must not be used by
two threads at once, so each thread keeps its own (threads of the server's pool live long).
"""

from __future__ import annotations

import threading

import duckdb

_local = threading.local()


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's connection (an in-memory database that only reads Parquet files)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET threads = 1")  # the server's threads are the parallelism
        _local.con = con
    return con
