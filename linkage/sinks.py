"""Parquet files written on threads of their own, hashed as they are written.

A stage that writes several large Parquet files from one loop (prepare's keys, payload
and crosswalk; combine's output) would otherwise encode and compress them one after the
other on the loop's thread while the other cores wait: Parquet encoding releases the
GIL, so each file gets a writer thread and the loop only hands batches over. The SHA-256
that an envelope's manifest signs is taken from the bytes as they pass to disk, so
sealing the file later needs no second read of it.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from linkage.age_worker import HashingWriter


class WriteBehind:
    """A Parquet writer fed from a thread of its own: encoding and compressing one batch
    overlaps whatever the caller does next. At most ``depth`` batches wait, so memory stays
    flat; a write error comes back at the next write or on leaving."""

    def __init__(self, writer: pq.ParquetWriter, depth: int = 2, name: str = "writer") -> None:
        self._writer = writer
        self._queue: queue.Queue[pa.RecordBatch | pa.Table | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> WriteBehind:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(item)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def write(self, item: pa.RecordBatch | pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self._error = self._error or value  # stop writing; drop what waits
        self._queue.put(None)
        self._thread.join()
        if kind is None and self._error is not None:
            raise self._error


class HashedParquetSink:
    """One Parquet file at ``path``, written behind the caller on a thread of its own and
    hashed as it is written: :attr:`sha256` once closed (``with`` exits cleanly)."""

    def __init__(self, path: str | Path, schema: pa.Schema, **options: Any) -> None:
        self.sha256: str | None = None
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in __exit__
        try:
            self._hashing = HashingWriter(self._raw)
            self._writer = pq.ParquetWriter(self._hashing, schema, **options)
        except BaseException:
            self._raw.close()
            raise
        self._behind = WriteBehind(self._writer, name=f"write-{Path(path).stem}")

    def __enter__(self) -> HashedParquetSink:
        self._behind.__enter__()
        return self

    def write(self, table: pa.Table) -> None:
        self._behind.write(table)

    def __exit__(self, kind, value, traceback) -> None:
        try:
            self._behind.__exit__(kind, value, traceback)
            self._writer.close()
        except BaseException:
            if kind is None:
                raise  # else the caller's own error goes on, not this echo of it
        finally:
            self._hashing.close()  # its hashing thread, if a large write started one
            self._raw.close()
        if kind is None:
            self.sha256 = self._hashing.digest.hexdigest()


__all__ = ["HashedParquetSink", "WriteBehind"]
