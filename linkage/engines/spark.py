"""The cluster engine: Apache Spark (PySpark), for deployments that outgrow one machine.

It computes exactly what :mod:`linkage.engines.duckdb` computes: the same HMAC bytes, the
same cluster numbers (new clusters numbered by key order, after the ones already formed),
the same combined rows. The pipeline draws link ids after matching, so both engines give
the same link map up to those random ids, and a test holds them to it.

``spark_session()`` starts one session per process (JVM start-up costs tens of seconds)
and reuses it. The CLI's ``--spark-master`` (or ``PSEUDOLINK_SPARK_MASTER``) points it at a
cluster; without either it runs in local mode. The tests run it on a standalone cluster of
two workers (tests/linkage/spark_cluster.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from linkage.engines.base import Engine, LinkSummary, MatchResult, ReviewRequest
from linkage.envelope import COMPRESSION
from linkage.errors import InputError, LinkageError, SerialMismatch
from linkage.keys.linkage_key import SEPARATOR, hmac_pads
from linkage.scratch import watch
from linkage.spec import Recipe

if TYPE_CHECKING:
    from linkage.fuzzy.link import FuzzyOutcome
    from linkage.fuzzy.params import FuzzyParams
    from linkage.prepare import KeysStrategy, PrepareJob, PrepareTotals
    from linkage.spec import HolderSpec

DEFAULT_MASTER = "local[2]"


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None
                  ) -> SparkSession:
    """The process's Spark session on ``master``: bound to loopback, no web UI.

    ``master`` defaults to ``PSEUDOLINK_SPARK_MASTER``, else the session already running,
    else local mode. A process holds one Spark context: asking for another master stops the
    running one first. ``conf`` adds settings to a session being started (after
    ``PSEUDOLINK_SPARK_CONF``).
    """
    master = master or os.environ.get("PSEUDOLINK_SPARK_MASTER")
    active = SparkSession.getActiveSession()
    if active is not None:
        if master is None or active.sparkContext.master == master:
            return active
        active.stop()
    master = master or DEFAULT_MASTER
    # Read by the JVM at launch, before any config: keeps every Spark socket on loopback.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.appName("pseudolink")
        .master(master)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("PSEUDOLINK_SPARK_PARTITIONS",
                                                                "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Parquet timestamps as pyarrow and DuckDB write them, not the legacy INT96.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        # CSV rows are checked against the header whole (as the one-machine reader does),
        # not only in the columns a stage reads.
        .config("spark.sql.csv.parser.columnPruning.enabled", "false")
        # A broadcast join collects its smaller side on the driver and sends it out again:
        # record-level data through the driver, which the engine never does.
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .config("spark.driver.memory", os.environ.get("PSEUDOLINK_SPARK_MEMORY", "2g"))
        .config("spark.executor.memory",
                os.environ.get("PSEUDOLINK_SPARK_EXECUTOR_MEMORY", "1g"))
    )
    for name, value in {**_extra_conf(), **(conf or {})}.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    if "PYSPARK_PYTHON" not in os.environ:
        # Python workers must import this package and its compiled HMAC helper: unless the
        # deployment names its own interpreter, executors run this one, which a cluster on
        # this host (or one installed alike) has at the same path.
        session.sparkContext.pythonExec = sys.executable
    return session


def _extra_conf() -> dict[str, str]:
    """``PSEUDOLINK_SPARK_CONF``: ``name=value`` pairs, comma-separated, for the operator's
    own settings (for example ``spark.driver.maxResultSize=64m``)."""
    pairs = [p for p in os.environ.get("PSEUDOLINK_SPARK_CONF", "").split(",") if p.strip()]
    conf = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise LinkageError(f"PSEUDOLINK_SPARK_CONF: '{pair}' is not name=value")
        conf[name.strip()] = value.strip()
    return conf


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _to_arrow(frame: DataFrame) -> pa.Table:
    return frame.toArrow()


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, session: SparkSession | None = None, master: str | None = None,
                 conf: Mapping[str, str] | None = None) -> None:
        self._session = session
        self.master = master
        self.conf = dict(conf or {})

    @property
    def spark(self) -> SparkSession:
        if self._session is None:
            return spark_session(self.master, self.conf)
        return self._session

    def linkage_keys(self, values: pa.Table, project_key: bytes,
                     recipes: Sequence[Recipe]) -> pa.Table:
        ipad, opad = hmac_pads(project_key)
        frame = self.spark.createDataFrame(values)
        columns = []
        for recipe in recipes:
            parts = []
            for field in recipe.fields:
                parts += [F.lit(SEPARATOR), F.col(_q(field))]
            message = F.concat(F.lit(bytearray(recipe.tag)), F.encode(F.concat(*parts), "UTF-8"))
            inner = F.unhex(F.sha2(F.concat(F.lit(bytearray(ipad)), message), 256))
            digest = F.unhex(F.sha2(F.concat(F.lit(bytearray(opad)), inner), 256))
            missing = None
            for field in recipe.fields:
                test = F.col(_q(field)).isNull()
                missing = test if missing is None else missing | test
            columns.append(F.when(missing, F.lit(None).cast("binary"))
                           .otherwise(digest).alias(recipe.name))
        # A map-only plan: rows come back in the order they went in, as serials need.
        keys = _to_arrow(frame.select(*columns))
        return keys.cast(pa.schema([pa.field(r.name, pa.binary()) for r in recipes]))

    def prepare_file(self, job: PrepareJob) -> PrepareTotals:
        """The executors read the holder file, normalise and key it (the same Python code
        as DuckDB's path, through ``mapInArrow``: exact mode's HMAC, fuzzy mode's Bloom
        filters and blocking keys) and write the keys, payload and crosswalk files; the
        driver gets counts only.

        Each output is one Parquet file, written by one task after the parallel work
        (the envelope seals one file), rows in the input's order. The file must be where
        every executor can read it, and the scratch folders where every executor can write.
        """
        from linkage.prepare import PrepareTotals

        spark = self.spark
        frame = _read_input(spark, job.input_path, job.encoding)
        needed, record_id = job.columns(frame.columns)
        job.step(1)
        attrs = list(job.holder.attributes)
        # The key columns' names and types come from the strategy, without a record.
        key_schema = job.strategy.schema()
        source = frame.select(*(F.col(_q(c)) for c in needed),
                              F.input_file_block_start().alias("__start"))
        fields = [T.StructField("__start", T.LongType()), T.StructField("__idx", T.LongType()),
                  T.StructField("__stats", T.StringType()),
                  T.StructField("serial", T.StringType()),
                  *(T.StructField(f"k__{n}", T.BinaryType()) for n in key_schema.names),
                  *(T.StructField(f"a__{a}", frame.schema[a].dataType) for a in attrs),
                  T.StructField("__record_id", T.StringType())]
        task = _PrepareTask(job.holder, job.strategy, key_schema.names, job.project_key,
                            record_id, str(job.input_path), needed, T.StructType(fields))
        # Materialised once: serials are random, so a recomputed partition would differ.
        with _executor_errors(job.input_path):
            staged = source.mapInArrow(task, T.StructType(fields)).localCheckpoint(eager=True)
        try:
            totals = PrepareTotals()
            for _, stats in sorted(staged.where(F.col("__stats").isNotNull())
                                   .select("__start", "__stats").collect()):
                totals.merge(PrepareTotals.from_dict(json.loads(stats)))
            if totals.records == 0:
                return totals  # prepare refuses the file; nothing to write
            records = staged.where(F.col("__stats").isNull())
            # Row numbers: each block's rows follow those of the blocks before it.
            offsets, done = [], 0
            blocks = sorted((start, part, count) for part, start, count in records.groupBy(
                F.spark_partition_id(), "__start").count().collect())
            for start, _, count in blocks:
                offsets += [F.lit(start).cast("long"), F.lit(done).cast("long")]
                done += count
            # Each task writes its partition: in block order already (one file read split by
            # split), unless Spark packed the splits otherwise; then they are sorted across.
            parts = [part for _, part, _ in blocks]
            scattered = parts != sorted(parts)
            offset = (F.element_at(F.create_map(*offsets), F.col("__start"))
                      if offsets else F.lit(0).cast("long"))
            job.step(2)
            # Written by pyarrow in the executors, in the strategy's types: Spark's own
            # writer would make fuzzy mode's fixed-width filters variable-width binary.
            _write_arrow_single(records.select(
                "__start", "__idx", "serial",
                *(F.col(_q(f"k__{n}")).alias(n) for n in key_schema.names)),
                job.keys_out, pa.schema([pa.field("serial", pa.string()), *key_schema]),
                COMPRESSION["keys"], shuffle=scattered)
            _write_single(records.select(
                "__start", "__idx", "serial",
                *(F.col(_q(f"a__{a}")).alias(a) for a in attrs)),
                job.payload_out, COMPRESSION["payload"], dictionary=True, shuffle=scattered)
            row_number = offset + F.col("__idx") + 1
            _write_single(records.select(
                "__start", "__idx", row_number.alias("row_number"),
                F.coalesce(F.col("__record_id"), row_number.cast("string")).alias("record_id"),
                "serial"), job.crosswalk_out, "zstd", dictionary=False, shuffle=scattered)
        finally:
            staged.unpersist()
        return totals

    def match(self, keys: Mapping[str, pa.Table], recipes: Sequence[str]) -> MatchResult:
        frames = {h: self.spark.createDataFrame(t) for h, t in keys.items()}
        return _Matcher(self.spark, frames, recipes).run()

    def match_files(self, keys: Mapping[str, Path], recipes: Sequence[str]) -> MatchResult:
        frames = {h: self.spark.read.parquet(str(p)) for h, p in keys.items()}
        return _Matcher(self.spark, frames, recipes).run()

    def link_files(self, keys: Mapping[str, Path], recipes: Sequence[str],
                   linkmap: Path | None) -> MatchResult:
        """The executors match, draw the link ids and write the link map; the driver gets
        counts only (``members`` comes back empty)."""
        frames = {h: self.spark.read.parquet(str(p)) for h, p in keys.items()}
        matcher = _Matcher(self.spark, frames, recipes)
        members = matcher.cluster()
        result = matcher.result
        result.members = pa.table({"cluster": pa.array([], pa.int64()),
                                   "holder": pa.array([], pa.string()),
                                   "serial": pa.array([], pa.string()),
                                   "recipe": pa.array([], pa.string())})
        result.summary = _summary(members, list(recipes))
        if linkmap is not None:
            ids = _link_ids(members, result.summary.clusters)
            try:
                _write_single(
                    members.join(ids, "cluster").select("cluster", "holder", "link_id",
                                                        "serial"),
                    linkmap, COMPRESSION["linkmap"], dictionary=False,
                    order=("cluster", "holder"), drop=("cluster",), shuffle=True)
            finally:
                ids.unpersist()
        return result

    def compare_pairs(self, left: pa.Table, right: pa.Table,
                      fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                      cuts: Sequence[float], baselines: Mapping[str, float]) -> np.ndarray:
        # Imported here: fuzzy mode's numpy code is shipped to the executors from there.
        from linkage.engines.spark_fuzzy import spark_levels

        return spark_levels(self.spark, left, right, fields, li, ri, cuts, baselines)

    def fuzzy_link_files(self, keys: Mapping[str, Path], params: FuzzyParams,
                         linkmap: Path | None, review: ReviewRequest | None = None
                         ) -> FuzzyOutcome:
        """The executors read the keys files, block, compare, score, resolve, apply review
        decisions and write the link map and review files; the driver fits the model on the
        distinct comparison patterns and gets counts only (see
        :mod:`linkage.engines.spark_fuzzy`)."""
        from linkage.engines.spark_fuzzy import fuzzy_link

        return fuzzy_link(self.spark, keys, params, linkmap, review)

    def linked_records(self, linkmap: Path) -> dict[str, int]:
        counts = self.spark.read.parquet(str(linkmap)).groupBy("holder").count().collect()
        return {holder: int(n) for holder, n in counts}

    def check_serials(self, linkmap: Path, payloads: Mapping[str, Path]) -> None:
        links = self.spark.read.parquet(str(linkmap))
        for holder, path in payloads.items():
            serials = self.spark.read.parquet(str(path)).groupBy("serial").count()
            repeated = serials.where(F.col("count") > 1).count()
            unknown = links.where(F.col("holder") == holder).join(
                serials, "serial", "left_anti").count()
            if unknown:
                raise SerialMismatch({holder: unknown})
            if repeated:
                raise LinkageError(f"the payload of holder '{holder}' repeats a serial")

    def combine_files(self, linkmap: Path, payloads: Mapping[str, tuple[Path, Sequence[str]]],
                      out: Path) -> tuple[int, list[str]]:
        """The executors read the files, join them and write ``out`` as a Parquet dataset (a
        folder of part files, in link id order); only counts come back to the driver.

        The files must be where every executor can read them, and ``out`` where every
        executor can write: on one host, any folder; on a cluster, shared storage.
        """
        links = self.spark.read.parquet(str(linkmap)).select("link_id", "holder", "serial")
        frame = links.select("link_id").distinct()
        names = ["link_id"]
        flags = []
        for index, (holder, (path, attrs)) in enumerate(payloads.items()):
            mine = links.where(F.col("holder") == holder).select(
                F.col("link_id").alias(f"__l{index}"), F.col("serial").alias(f"__m{index}"))
            payload = self.spark.read.parquet(str(path)).select(
                F.col("serial").alias(f"__p{index}"),
                *(F.col(_q(a)).alias(f"{holder}__{a}") for a in attrs))
            frame = (frame.join(mine, F.col("link_id") == F.col(f"__l{index}"), "left")
                     .join(payload, F.col(f"__m{index}") == F.col(f"__p{index}"), "left"))
            names += [f"{holder}__{a}" for a in attrs]
            flags.append(F.sum((F.col(f"__m{index}").isNotNull()
                                & F.col(f"__p{index}").isNull()).cast("long")))
        frame = frame.cache()
        try:
            rows, distinct, *missing = frame.agg(
                F.count(F.lit(1)), F.countDistinct("link_id"), *flags).first()
            missing = {h: int(n or 0) for h, n in zip(payloads, missing, strict=True)}
            if rows != distinct or any(missing.values()):
                raise SerialMismatch(missing, int(rows - distinct))
            # Written under a hidden name beside ``out``, then renamed onto it whole.
            out.parent.mkdir(parents=True, exist_ok=True)
            parts = out.parent / f".{out.name}.{os.getpid()}.parts"
            shutil.rmtree(parts, ignore_errors=True)
            watch(parts)
            try:
                frame.select(*(F.col(_q(n)) for n in names)).orderBy("link_id") \
                    .write.option("compression", "zstd").parquet(str(parts))
                for marker in parts.glob("_*"):
                    marker.unlink()
                _publish(parts, out)
            finally:
                shutil.rmtree(parts, ignore_errors=True)
        finally:
            frame.unpersist()
        return int(rows), names

    def combine(self, linkmap: pa.Table, payloads: Mapping[str, pa.Table]) -> pa.Table:
        spark = self.spark
        spark.createDataFrame(linkmap.select(["link_id", "holder", "serial"])) \
            .createOrReplaceTempView("pl_linkmap")
        columns = ["ids.link_id"]
        fields = [pa.field("link_id", pa.string())]
        joins = []
        for index, (holder, payload) in enumerate(payloads.items()):
            view = f"pl_p{index}"
            spark.createDataFrame(payload).createOrReplaceTempView(view)
            for attr in payload.column_names:
                if attr == "serial":
                    continue
                columns.append(f"{view}.{_q(attr)} as {_q(f'{holder}__{attr}')}")
                fields.append(pa.field(f"{holder}__{attr}", payload.schema.field(attr).type))
            joins.append(
                f"left join pl_linkmap m{index} on m{index}.link_id = ids.link_id "
                f"and m{index}.holder = '{holder.replace(chr(39), chr(39) * 2)}' "
                f"left join {view} on {view}.serial = m{index}.serial")
        sql = (f"select {', '.join(columns)} "
               f"from (select distinct link_id from pl_linkmap) ids {' '.join(joins)} "
               "order by ids.link_id")
        return _to_arrow(spark.sql(sql)).cast(pa.schema(fields))


#: Python codec names (as ``linkage.inputs`` detects them) -> Java charsets for Spark's reader.
_JAVA_CHARSETS = {"utf8": "UTF-8", "utf8sig": "UTF-8", "cp949": "x-windows-949",
                  "euckr": "EUC-KR", "uhc": "x-windows-949", "ms949": "x-windows-949"}


def _read_input(spark: SparkSession, path: Path, encoding: str | None) -> DataFrame:
    """The holder file as Spark reads it, in the executors: Parquet as it is, CSV with every
    column a string and an empty field null, as ``linkage.inputs`` reads it here."""
    if path.suffix.lower() == ".parquet":
        return spark.read.parquet(str(path))
    if path.suffix.lower() not in (".csv", ".txt"):
        raise InputError(path, "input must be a .csv or .parquet file")
    if path.exists() and path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    name = (encoding or "utf-8").replace("-", "").replace("_", "").lower()
    charset = _JAVA_CHARSETS.get(name, encoding or "UTF-8")
    frame = (spark.read.option("header", "true").option("inferSchema", "false")
             .option("encoding", charset).option("escape", '"').option("mode", "FAILFAST")
             .option("multiLine", "false").csv(str(path)))
    # A byte-order mark is not part of the first column's name.
    renamed = [c.lstrip("\ufeff") for c in frame.columns]
    if renamed != frame.columns:
        frame = frame.toDF(*renamed)
    return frame


@contextmanager
def _executor_errors(path: Path) -> Iterator[None]:
    """A failure in the executors as the one-machine path reports it: the file and what
    was wrong (the last line of the executor's Python error, or Spark's CSV parser's)."""
    from pyspark.errors import PythonException

    try:
        yield
    except PythonException as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if "Error: " in line), lines[-1])
        message = last.split("Error: ", 1)[-1]
        raise LinkageError(message if message.startswith(str(path))
                           else f"{path}: {message}") from None
    except Exception as exc:
        if "MALFORMED" in str(exc).upper():
            raise InputError(path, "cannot parse CSV: a row does not fit the header "
                             "(Spark's reader, FAILFAST)") from None
        raise


class _PrepareTask:
    """``mapInArrow``'s function: one partition of the holder file in, its prepared rows
    out, then one row of counts (``__stats``) for the whole partition. Runs in the
    executors; pickled with the mode's keys strategy and the project key, which keying
    needs there."""

    def __init__(self, holder: HolderSpec, strategy: KeysStrategy, key_names: list[str],
                 project_key: bytes, record_id: str | None, input_path: str,
                 needed: list[str], schema: T.StructType) -> None:
        self.holder, self.strategy, self.project_key = holder, strategy, project_key
        self.key_names = key_names
        self.record_id, self.input_path, self.needed = record_id, input_path, needed
        from pyspark.sql.pandas.types import to_arrow_schema

        self.schema = to_arrow_schema(schema)

    def __call__(self, batches):
        from linkage.engines.duckdb import DuckDBEngine
        from linkage.prepare import PrepareTotals, prepare_batch

        hasher = DuckDBEngine()
        hasher.threads = 1  # one task per executor core
        totals = PrepareTotals()
        seen: dict[int, int] = {}
        first = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            starts = table.column("__start").to_numpy()
            # Rows of one block arrive in order; number them within their block.
            index = np.empty(len(starts), dtype=np.int64)
            bounds = np.flatnonzero(np.diff(starts)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(starts)], strict=True):
                start = int(starts[lo])
                base = seen.get(start, 0)
                index[lo:hi] = np.arange(base, base + hi - lo)
                seen[start] = base + hi - lo
            first = int(starts[0]) if first is None else first
            done = prepare_batch(table.select(self.needed), self.holder, self.strategy,
                                 self.project_key, hasher, self.record_id,
                                 Path(self.input_path))
            keys, _, crosswalk = done.tables(totals)
            rows = table.num_rows
            columns = [table.column("__start"), pa.array(index), pa.nulls(rows, pa.string()),
                       keys.column("serial"),
                       *(keys.column(n) for n in self.key_names),
                       *(done.payload.column(a) for a in self.holder.attributes),
                       (done.record_ids if done.record_ids is not None
                        else pa.nulls(rows, pa.string()))]
            yield pa.RecordBatch.from_arrays(
                [(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c).cast(f.type)
                 for c, f in zip(columns, self.schema, strict=True)], schema=self.schema)
            del crosswalk
        if first is not None:
            stats = [pa.array([first], pa.int64()), pa.nulls(1, pa.int64()),
                     pa.array([json.dumps(totals.to_dict())], pa.string())]
            yield pa.RecordBatch.from_arrays(
                stats + [pa.nulls(1, f.type) for f in list(self.schema)[3:]],
                schema=self.schema)


#: Rows per row group of a file the executors write with pyarrow (Spark hands them over
#: in Arrow batches of 10,000).
_ARROW_GROUP_ROWS = 131_072


def _write_arrow_single(frame: DataFrame, target: Path, schema: pa.Schema, compression: str,
                        *, shuffle: bool) -> None:
    """:func:`_write_single` (rows in ``__start``, ``__idx`` order), each task writing its
    partition with pyarrow in ``schema``: for columns whose type Spark's writer would change
    (fixed-width binary). The parts are joined into one file as there."""
    parts = target.parent / f".{target.name}.{os.getpid()}.parts"
    shutil.rmtree(parts, ignore_errors=True)
    watch(parts)
    try:
        order = ("__start", "__idx")
        ordered = frame.orderBy(*order) if shuffle else frame.sortWithinPartitions(*order)
        written = sorted(ordered.drop(*order).mapInArrow(
            _ArrowPartWriter(str(parts), schema, compression),
            "part int, name string").collect())
        if not written:
            raise LinkageError(f"Spark wrote no file for {target.name}")
        files = [parts / name for _, name in written]
        if len(files) == 1:
            os.replace(files[0], target)
        else:
            merged = parts / "merged.parquet"
            _merge_parts(frame.sparkSession, files, merged)
            os.replace(merged, target)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


class _ArrowPartWriter:
    """``mapInArrow``'s function: write this task's (sorted) rows as one Parquet part file
    in ``schema``, and return its partition number and name (nothing if it had no rows)."""

    def __init__(self, parts: str, schema: pa.Schema, compression: str) -> None:
        self.parts, self.schema, self.compression = parts, schema, compression

    def __call__(self, batches):
        from itertools import chain

        import pyarrow.parquet as pq
        from pyspark import TaskContext

        context = TaskContext.get()
        part = context.partitionId()
        folder = Path(self.parts)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{part:05d}.parquet"
        # A retried or speculative attempt writes its own file; the rename is atomic.
        temporary = folder / f".{name}.{context.taskAttemptId()}"
        pending: list[pa.RecordBatch] = []
        rows = 0
        writer = None
        try:
            for batch in chain(batches, [None]):  # None: flush what waits
                if batch is not None and batch.num_rows:
                    pending.append(pa.RecordBatch.from_arrays(
                        [column.cast(field.type)
                         for column, field in zip(batch.columns, self.schema, strict=True)],
                        schema=self.schema))
                    rows += batch.num_rows
                if pending and (batch is None or rows >= _ARROW_GROUP_ROWS):
                    if writer is None:
                        writer = pq.ParquetWriter(temporary, self.schema,
                                                  compression=self.compression,
                                                  use_dictionary=False)
                    writer.write_table(pa.Table.from_batches(pending),
                                       row_group_size=_ARROW_GROUP_ROWS)
                    pending, rows = [], 0
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            os.replace(temporary, folder / name)
            yield pa.RecordBatch.from_arrays([pa.array([part], pa.int32()),
                                              pa.array([name])], names=["part", "name"])


def _summary(members: DataFrame, recipes: list[str]) -> LinkSummary:
    """:class:`LinkSummary` of the members, counted in the executors."""
    clusters, low, high = members.agg(F.countDistinct("cluster"), F.min("cluster"),
                                      F.max("cluster")).first()
    if clusters and (low != 1 or high != clusters):
        raise AssertionError("engine returned non-dense cluster numbers")
    formed = dict.fromkeys(recipes, 0)
    for index, count in (members.groupBy("cluster").agg(F.min("recipe").alias("first"))
                         .groupBy("first").count().collect()):
        formed[recipes[index]] += int(count)
    linked = {(holder, recipes[index]): int(count) for holder, index, count in
              members.groupBy("holder", "recipe").count().collect()}
    return LinkSummary(int(clusters), formed, linked)


def _draw_link_ids(batches):
    """``mapInArrow``'s function: a random link id (the OS's CSPRNG) for each cluster."""
    from linkage.serials import random_hex

    for batch in batches:
        yield pa.RecordBatch.from_arrays([batch.column(0), random_hex(batch.num_rows)],
                                         names=["cluster", "link_id"])


def _link_ids(members: DataFrame, clusters: int, tries: int = 3) -> DataFrame:
    """One random link id per cluster, drawn in the executors and held there; drawn again
    in the practically impossible case that two partitions drew the same id."""
    for _ in range(tries):
        ids = (members.select("cluster").distinct()
               .mapInArrow(_draw_link_ids, "cluster long, link_id string")
               .localCheckpoint(eager=True))
        if ids.agg(F.countDistinct("link_id")).first()[0] == clusters:
            return ids
        ids.unpersist()
    raise LinkageError("could not draw distinct link ids")


def _write_single(frame: DataFrame, target: Path, compression: str, *, dictionary: bool,
                  order: Sequence[str] = ("__start", "__idx"),
                  drop: Sequence[str] = ("__start", "__idx"), shuffle: bool = False) -> None:
    """Write ``frame`` (less the columns ``drop``) as the one Parquet file ``target``, rows
    in ``order``.

    Every task writes its own partition, sorted, in the executors; the part files are then
    joined into one file by copying their pages as they are (:func:`_merge_parts`). With
    ``shuffle`` the frame is sorted across partitions first (a range shuffle), so part
    files in partition order hold the rows in ``order``; without it the caller promises
    that its partitions already come in that order (a file read block by block), and each
    is only sorted within.
    """
    parts = target.parent / f".{target.name}.{os.getpid()}.parts"
    shutil.rmtree(parts, ignore_errors=True)
    watch(parts)
    try:
        ordered = frame.orderBy(*order) if shuffle else frame.sortWithinPartitions(*order)
        (ordered.drop(*drop)
         .write.option("compression", compression)
         .option("parquet.enable.dictionary", str(dictionary).lower())
         .parquet(str(parts)))
        # part-NNNNN: the task's partition number, so the names sort in partition order.
        written = sorted(parts.glob("part-*"))
        if not written:
            raise LinkageError(f"Spark wrote no file for {target.name}")
        if len(written) == 1:
            os.replace(written[0], target)
        else:
            merged = parts / "merged.parquet"
            _merge_parts(frame.sparkSession, written, merged)
            os.replace(merged, target)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _merge_parts(spark: SparkSession, files: Sequence[Path], target: Path) -> None:
    """Join Parquet files of one schema into ``target``, rows in the files' order, with
    parquet-java's ``ParquetRewriter`` (in Spark's own jars, run in the driver's JVM).

    It copies each column chunk's compressed pages as they are and writes one footer over
    them: no value is decoded or encoded again, so the driver moves bytes (as the seal that
    follows does), never records, and the file is as the executors wrote it, row group for
    row group.
    """
    jvm = spark._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    inputs = jvm.java.util.ArrayList()
    for path in files:
        inputs.add(hadoop_path(path.resolve().as_uri()))
    rewrite = jvm.org.apache.parquet.hadoop.rewrite
    options = rewrite.RewriteOptions.Builder(
        spark._jsc.hadoopConfiguration(), inputs, hadoop_path(target.resolve().as_uri())
    ).build()
    rewriter = rewrite.ParquetRewriter(options)
    try:
        rewriter.processBlocks()
    finally:
        rewriter.close()


def _publish(parts: Path, out: Path) -> None:
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


class _Matcher:
    """The DuckDB engine's recipe-by-recipe matching, step for step, in Spark SQL."""

    def __init__(self, spark: SparkSession, frames: Mapping[str, DataFrame],
                 recipes: Sequence[str]) -> None:
        self.spark = spark
        self.recipes = list(recipes)
        parts = []
        for holder, frame in frames.items():
            for index, recipe in enumerate(self.recipes):
                parts.append(frame.where(F.col(_q(recipe)).isNotNull()).select(
                    F.lit(holder).alias("holder"), F.col("serial"),
                    F.lit(index).alias("recipe"), F.col(_q(recipe)).alias("key")))
        keys_long = parts[0]
        for part in parts[1:]:
            keys_long = keys_long.unionByName(part)
        self._view("keys_long", keys_long.cache())
        self._view("members", spark.createDataFrame(
            [], "cluster bigint, holder string, serial string, recipe int"))
        self.result = MatchResult(members=pa.table({}))

    def _view(self, name: str, frame: DataFrame) -> DataFrame:
        frame.createOrReplaceTempView(f"pl_{name}")
        return frame

    def _sql(self, text: str) -> DataFrame:
        return self.spark.sql(text)

    def _table(self, name: str, text: str) -> DataFrame:
        """Materialise a step's table, so later steps do not recompute its lineage."""
        return self._view(name, self._sql(text).localCheckpoint())

    def cluster(self) -> DataFrame:
        """Match recipe by recipe; the members (``recipe`` as its index), left in Spark."""
        self._shared()
        for index, recipe in enumerate(self.recipes):
            self._step(index, recipe)
        return self._sql("select cluster, holder, serial, recipe from pl_members")

    def run(self) -> MatchResult:
        members = _to_arrow(self.cluster().orderBy("cluster", "holder"))
        members = members.cast(pa.schema([("cluster", pa.int64()), ("holder", pa.string()),
                                          ("serial", pa.string()), ("recipe", pa.int32())]))
        names = pa.array(self.recipes, pa.string())
        self.result.members = members.set_column(
            3, "recipe", names.take(members.column("recipe").cast(pa.int64())))
        return self.result

    def _shared(self) -> None:
        rows = self._sql("""
            with shared as (select recipe, key from pl_keys_long group by recipe, key
                            having count(distinct holder) > 1)
            select k.holder, k.recipe, count(*) as n from pl_keys_long k
            left semi join shared s on s.recipe = k.recipe and s.key = k.key
            group by k.holder, k.recipe""").collect()
        for holder, recipe, count in rows:
            self.result.shared.setdefault(holder, {})[self.recipes[recipe]] = int(count)

    def _step(self, index: int, recipe: str) -> None:
        self._table("cand", f"""
            select k.holder, k.serial, k.key, m.cluster
            from pl_keys_long k left join pl_members m
              on m.holder = k.holder and m.serial = k.serial
            where k.recipe = {index}""")
        self._table("dup", """
            select holder, key, count(*) as n from pl_cand group by holder, key
            having count(*) > 1""")
        for holder, records, distinct in self._sql(
                "select holder, sum(n), count(*) from pl_dup group by holder").collect():
            self.result.duplicates.setdefault(holder, {})[recipe] = (int(records),
                                                                     int(distinct))
        self._table("uniq", """
            select c.* from pl_cand c left anti join pl_dup d
              on d.holder = c.holder and d.key = c.key""")
        self._table("grp", """
            select key, count(distinct cluster) as n_clusters, min(cluster) as cluster
            from pl_uniq group by key
            having count(*) >= 2 and count_if(cluster is null) >= 1""")
        self._table("attach", """
            select u.holder, u.serial, g.cluster from pl_uniq u join pl_grp g using (key)
            where g.n_clusters = 1 and u.cluster is null""")
        self._table("crowded", """
            select cluster, holder from (
                select cluster, holder from pl_attach
                union all
                select cluster, holder from pl_members
                where cluster in (select cluster from pl_attach))
            group by cluster, holder having count(*) > 1""")
        conflicts = {
            "many_to_one": self._sql(
                "select count(*) from pl_attach a left semi join pl_crowded c "
                "on a.cluster = c.cluster and a.holder = c.holder").first()[0],
            "would_merge_clusters": self._sql(
                "select count(*) from pl_uniq u join pl_grp g using (key) "
                "where g.n_clusters > 1 and u.cluster is null").first()[0],
            "matches_a_duplicate": self._sql(
                "select count(*) from pl_uniq u left semi join pl_dup d "
                "on d.key = u.key and d.holder <> u.holder where u.cluster is null"
            ).first()[0],
        }
        self.result.conflicts[recipe] = {k: int(v) for k, v in conflicts.items()}
        offset = self._sql("select coalesce(max(cluster), 0) from pl_members").first()[0]
        self._table("members", f"""
            select cluster, holder, serial, recipe from pl_members
            union all
            select a.cluster, a.holder, a.serial, {index} from pl_attach a
            left anti join pl_crowded c on c.cluster = a.cluster and c.holder = a.holder
            union all
            select n.cluster, u.holder, u.serial, {index} from pl_uniq u join (
                select key, {int(offset)} + row_number() over (order by key) as cluster
                from pl_grp where n_clusters = 0) n using (key)""")


__all__ = ["SparkEngine", "spark_session"]
