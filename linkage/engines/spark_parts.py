"""Output parts that Spark's tasks write themselves, with pyarrow, as prepare's tasks write
their blocks: columns go to the file as the task made them, without being turned back into
Spark's rows for Spark's writer. Each task attempt writes a file of its own; the driver
keeps the attempt Spark took (:func:`publish_parts`) and gets counts only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkage.scratch import watch

#: What a task returns for the part it wrote: the part, the attempt that wrote it, its rows.
PART_DONE = pa.schema([("part", pa.int32()), ("attempt", pa.int32()), ("rows", pa.int64())])
#: Rows per row group of a part.
GROUP_ROWS = 131_072


def part_file(part: int, attempt: int) -> str:
    """A task attempt's file of an output part; the chosen attempt's is renamed to
    ``part-NNNNN.parquet`` (names sort in partition order)."""
    return f"part-{part:05d}.{attempt}.attempt"


class PartWriter:
    """The running task's part of an output in ``folder``, written in row groups of
    :data:`GROUP_ROWS`; :meth:`close` returns the task's :data:`PART_DONE` row."""

    def __init__(self, folder: str, schema: pa.Schema, *, compression: str = "zstd",
                 dictionary: bool = True) -> None:
        from pyspark import TaskContext

        context = TaskContext.get()
        self.part, self.attempt = context.partitionId(), context.attemptNumber()
        self.schema, self.rows, self.pending = schema, 0, []
        self.writer = pq.ParquetWriter(Path(folder) / part_file(self.part, self.attempt),
                                       schema, compression=compression,
                                       use_dictionary=dictionary)

    def write(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.rows += batch.num_rows
        if sum(b.num_rows for b in self.pending) >= GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_batches(self.pending, self.schema))
            self.pending = []

    def close(self) -> pa.RecordBatch:
        try:
            self._flush()
        finally:
            self.writer.close()
        return pa.RecordBatch.from_pydict({"part": [self.part], "attempt": [self.attempt],
                                           "rows": [self.rows]}, schema=PART_DONE)

    def abandon(self) -> None:
        """Close the file as it is (a failed attempt's file is never published)."""
        if self.writer.is_open:
            self.writer.close()


def written_part(folder: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch], *,
                 compression: str = "zstd", dictionary: bool = True
                 ) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s output for a task that writes ``batches`` as its part
    (:class:`PartWriter`): its one :data:`PART_DONE` row, once every batch is written; a
    failure closes the file as it is and goes on up."""
    part = PartWriter(folder, schema, compression=compression, dictionary=dictionary)
    try:
        for batch in batches:
            part.write(batch)
    except BaseException:
        part.abandon()
        raise
    yield part.close()


@contextmanager
def parts_beside(target: Path) -> Iterator[Path]:
    """A hidden folder beside ``target`` for its parts (``.NAME.PID.parts``), cleared of an
    earlier run's, watched (swept if this process dies) and removed on the way out; not
    created, since Spark's writer makes its own."""
    folder = target.parent / f".{target.name}.{os.getpid()}.parts"
    shutil.rmtree(folder, ignore_errors=True)
    watch(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish_parts(folder: Path, chosen: Sequence[tuple[int, int]], schema: pa.Schema
                  ) -> list[Path]:
    """Keep each part's file of the attempt Spark took (``chosen``), named
    ``part-NNNNN.parquet``; drop the files of attempts that failed or lost. The kept files,
    in part order. Where no task ran (nothing to write: Spark gives an empty frame no
    partitions), one empty part of ``schema`` is the output."""
    keep = {part_file(part, attempt): f"part-{part:05d}.parquet" for part, attempt in chosen}
    for path in list(folder.iterdir()):
        if path.name in keep:
            path.rename(folder / keep[path.name])
        else:
            path.unlink()
    if not keep:
        pq.write_table(schema.empty_table(), folder / "part-00000.parquet")
        return [folder / "part-00000.parquet"]
    return sorted(folder / name for name in keep.values())
