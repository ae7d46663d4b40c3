"""Spark's combine: the executors join the payloads to the link map and write the combined
dataset in link id order, in two shuffles and without a sample of the data.

The first shuffle brings each link map row and each payload row together by (holder,
serial): one join for every holder at once, since the payloads are stacked into one frame,
each holder's attributes in columns of their own. The second sends each joined row to the
output part its link id falls in (fixed ranges of the id: link ids are uniform hex, so the
ranges are even without sampling) and sorts the part by link id, so a link id's rows (one
per holder) are adjacent; :class:`_MergeRows` folds them into the one combined row, in the
executors, refuses rows that do not fit (a linked serial missing from its payload, a
holder twice under a link id) and writes its part of the output with pyarrow, as prepare's
tasks write theirs (columns as they come, without turning them back into Spark's rows).
The driver gets counts only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from linkage.engines.spark import _q
from linkage.engines.spark_parts import PART_DONE, parts_beside, publish_parts, written_part
from linkage.errors import LinkageError
from linkage.scratch import watch

#: The merge's refusal, found again in the driver's error to run the full count.
MISFIT = "the link map and the payloads do not fit"
#: Where a link map row's holder has no payload (the merge expects none of its serials).
_NO_PAYLOAD = -1


class MisfitRows(LinkageError):
    """The executors found link map rows and payload rows that do not fit."""


def range_part(column: str, parts: int, *, hex_digits: int = 4) -> Column:
    """The output part of a string in ``parts`` fixed ranges of its leading hex digits
    (``0000`` up to ``4000``, ``4000`` up to ``8000``, ... for four parts). The bounds are
    strings compared as Spark compares strings, so any string falls in the part its order
    says, hex or not; uniform hex ids spread evenly."""
    top = 16 ** hex_digits
    bounds = [format(top * k // parts, f"0{hex_digits}x") for k in range(1, parts)]
    if not bounds:
        return F.lit(0)
    return sum((F.col(column) >= F.lit(b)).cast("int") for b in bounds)


#: The most link map rows one task of the join holds in its hash table (about 100 bytes
#: each): the join takes more tasks than ``spark.sql.shuffle.partitions`` where it needs them.
_HASHED_ROWS = 4_000_000


class _MergeRows:
    """``mapInArrow``'s function: rows sorted by (link id, holder), at most one per holder
    under a link id, folded into one row per link id with each holder's attributes and
    written as the task's part of the output (``schema``) in ``folder``.

    ``columns[h]`` are the input columns (positions) that hold holder ``h``'s attributes;
    a row of holder ``h`` carries them, the rest null. Runs in the executors.
    """

    def __init__(self, columns: Sequence[Sequence[int]], schema: pa.Schema,
                 folder: str) -> None:
        self.columns = [list(c) for c in columns]
        self.schema, self.folder = schema, folder

    def __call__(self, batches):
        yield from written_part(self.folder, self.schema, self._merged(batches))

    def _merged(self, batches):
        carried: pa.Table | None = None
        for batch in batches:
            table = pa.Table.from_batches([batch])
            if carried is not None:
                table = pa.concat_tables([carried, table])
            if table.num_rows == 0:
                continue
            # The last link id may go on in the next batch: hold its rows back.
            ids = table.column(0)
            if ids.null_count:
                self._merge(table)  # refuses it
            last = pc.equal(ids, ids[-1]).to_numpy(zero_copy_only=False)
            keep = int(np.argmax(last))
            carried = table.slice(keep)
            if keep:
                yield self._merge(table.slice(0, keep))
        if carried is not None and carried.num_rows:
            yield self._merge(carried)

    def _merge(self, table: pa.Table) -> pa.RecordBatch:
        table = table.combine_chunks()
        n = table.num_rows
        ids = table.column(0)
        if ids.null_count:
            raise MisfitRows(f"{MISFIT}: a link map row lacks its link id")
        holder = table.column(1).to_numpy()
        found = table.column(2).to_numpy(zero_copy_only=False)
        if not found.all():
            raise MisfitRows(f"{MISFIT}: a payload lacks a linked serial")
        first = np.ones(n, bool)
        if n > 1:
            first[1:] = pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(
                zero_copy_only=False)
        if np.any(~first[1:] & (holder[1:] == holder[:-1]) & (holder[1:] != _NO_PAYLOAD)):
            raise MisfitRows(f"{MISFIT}: a link id holds two rows of one holder")
        group = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        out = [ids.take(pa.array(starts))]
        for h, columns in enumerate(self.columns):
            rows = np.flatnonzero(holder == h)
            where = np.full(len(starts), -1, np.int64)
            where[group[rows]] = rows
            take = pa.array(where, mask=where < 0)
            out += [table.column(c).take(take) for c in columns]
        return pa.RecordBatch.from_arrays(
            [(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c).cast(f.type)
             for c, f in zip(out, self.schema, strict=True)], schema=self.schema)


def combine_parts(spark: SparkSession, linkmap: Path,
                  payloads: Mapping[str, tuple[Path, Sequence[str]]], folder: Path
                  ) -> tuple[DataFrame, pa.Schema]:
    """The job that writes the combined rows (``link_id``, then ``{holder}__{attribute}``),
    one per link id of the link map, into ``folder``: one file per output part, in link id
    order, each sorted (:func:`publish_parts` names them); its rows are :data:`PART_DONE`.
    Also the output's schema."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    holders = list(payloads)
    index = F.lit(_NO_PAYLOAD)
    for h in reversed(range(len(holders))):
        index = F.when(F.col("holder") == holders[h], F.lit(h)).otherwise(index)
    links = spark.read.parquet(str(linkmap)).select(
        "link_id", index.alias("__h"), F.col("serial").alias("__s"))
    stacked, columns = [], []
    typed: dict[str, T.DataType] = {}
    frames = {}
    for holder, (path, attrs) in payloads.items():
        frame = spark.read.parquet(str(path))
        frames[holder] = frame
        for a in attrs:
            typed[f"{holder}__{a}"] = frame.schema[a].dataType
    for h, (holder, (_, attrs)) in enumerate(payloads.items()):
        mine = {f"{holder}__{a}": a for a in attrs}
        stacked.append(frames[holder].select(
            F.lit(h).alias("__ph"), F.col("serial").alias("__ps"),
            *((F.col(_q(mine[n])) if n in mine else F.lit(None).cast(t)).alias(n)
              for n, t in typed.items())))
        columns.append([3 + list(typed).index(n) for n in mine])
    rows = stacked[0]
    for frame in stacked[1:]:
        rows = rows.unionByName(frame)
    # One shuffle by (holder, serial) for every holder; the link map's side (the smaller,
    # without attributes) is hashed, the payloads stream through unsorted (at 10M people a
    # sort-merge join took 61 s of the cluster's time, this 21 s). A hash table does not
    # spill, so the parts grow with the link map: at most _HASHED_ROWS rows each.
    parts = max(int(spark.conf.get("spark.sql.shuffle.partitions")),
                -(-pq.ParquetFile(linkmap).metadata.num_rows // _HASHED_ROWS))
    links = links.repartition(parts, "__h", "__s")
    joined = links.hint("shuffle_hash").join(
        rows, (F.col("__h") == F.col("__ph")) & (F.col("__s") == F.col("__ps")), "left")
    ordered = joined.select(
        "link_id", "__h",
        (F.col("__ps").isNotNull() | (F.col("__h") == _NO_PAYLOAD)).alias("__found"),
        *(F.col(_q(n)) for n in typed)
    ).repartitionById(parts, range_part("link_id", parts)) \
        .sortWithinPartitions("link_id", "__h")
    schema = to_arrow_schema(T.StructType(
        [T.StructField("link_id", T.StringType()),
         *(T.StructField(n, t) for n, t in typed.items())]))
    task = _MergeRows(columns, schema, str(folder))
    return ordered.mapInArrow(task, from_arrow_schema(PART_DONE)), schema


def write_combined(spark: SparkSession, linkmap: Path,
                   payloads: Mapping[str, tuple[Path, Sequence[str]]], out: Path
                   ) -> tuple[int, list[str]]:
    """Write the combined dataset ``out`` (part files in link id order) under a hidden name
    beside it, and rename it onto ``out`` whole; its rows and columns."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with parts_beside(out) as folder:
        folder.mkdir()
        job, schema = combine_parts(spark, linkmap, payloads, folder)
        done = job.collect()
        publish_parts(folder, [(d["part"], d["attempt"]) for d in done], schema)
        publish(folder, out)
    return sum(d["rows"] for d in done), schema.names


def publish(parts: Path, out: Path) -> None:
    """Rename the finished dataset onto ``out``, replacing what was there."""
    if out.exists():
        old = out.parent / f".{out.name}.{os.getpid()}.replaced"
        watch(old)
        out.rename(old)
        parts.rename(out)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        parts.rename(out)
