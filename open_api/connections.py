"""One DuckDB database per server process, and a cursor for each thread or stream.

Every request used to open a database of its own, each with a thread per core and a memory
limit of most of the machine: 200 concurrent downloads started about 1,700 threads. Now the
process holds one in-memory database whose threads and memory are sized for the server
(``PSEUDOLINK_API_DUCKDB_THREADS``, ``PSEUDOLINK_API_DUCKDB_MEMORY``), and each server
thread or download stream reads through a cursor of it: cursors share the database's
buffer pool and thread pool, and a cursor must not be used by two threads at once.
"""

from __future__ import annotations

import os
import threading

import duckdb

#: Threads of the shared database: the server's own threads are the main parallelism.
DEFAULT_THREADS = max(1, min(4, os.cpu_count() or 1))
DEFAULT_MEMORY = "512MB"

_local = threading.local()
_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def database() -> duckdb.DuckDBPyConnection:
    """The process's database (in memory; it only reads the releases' Parquet files)."""
    global _database
    with _lock:
        if _database is None:
            _database = duckdb.connect(config={
                "threads": int(os.environ.get("PSEUDOLINK_API_DUCKDB_THREADS",
                                              DEFAULT_THREADS)),
                "memory_limit": os.environ.get("PSEUDOLINK_API_DUCKDB_MEMORY", DEFAULT_MEMORY),
            })
        return _database


def connection() -> duckdb.DuckDBPyConnection:
    """This thread's cursor of the shared database, opened once and reused."""
    con = getattr(_local, "con", None)
    if con is None:
        con = database().cursor()
        _local.con = con
    return con


def cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor for work that outlives a request thread's turn (a streamed download);
    the caller closes it."""
    return database().cursor()
