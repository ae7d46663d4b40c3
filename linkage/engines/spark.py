"""The cluster engine: Apache Spark (PySpark), for deployments that outgrow one machine.

It computes exactly what :mod:`linkage.engines.duckdb` computes: the same HMAC bytes, the
same cluster numbers (new clusters numbered by key order, after the ones already formed),
the same combined rows. The pipeline draws link ids after matching, so both engines give
the same link map up to those random ids, and a test holds them to it.

``spark_session()`` starts one session per process (JVM start-up costs tens of seconds,
halved by :mod:`linkage.engines.spark_startup`'s class archive) and reuses it. The CLI's
``--spark-master`` (or ``PSEUDOLINK_SPARK_MASTER``) points it at a cluster; without either
it runs in local mode. The tests run it on a standalone cluster of
two workers (tests/linkage/spark_cluster.py).
"""

from __future__ import annotations

import json
import operator
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pyspark import SparkContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from linkage.engines.base import BAD_SERIAL, Engine, LinkSummary, MatchResult, ReviewRequest
from linkage.engines.link_ids import LINKMAP_SCHEMA, LinkIds, hex32
from linkage.engines.spark_parts import PART_DONE, parts_beside, publish_parts, written_part
from linkage.engines.spark_startup import publish_at_exit, with_archive
from linkage.envelope import COMPRESSION
from linkage.errors import InputError, LinkageError, SerialMismatch
from linkage.keys.linkage_key import SEPARATOR, hmac_pads
from linkage.spec import Recipe

if TYPE_CHECKING:
    from linkage.fuzzy.bloom import Filters
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
    settings = {**_extra_conf(), **(conf or {})}
    settings, dump = with_archive(settings, new_driver=SparkContext._gateway is None)
    for name, value in settings.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    if dump is not None:
        publish_at_exit(dump)
    session.sparkContext.setLogLevel("ERROR")
    if "PYSPARK_PYTHON" not in os.environ:
        # Python workers must import this package and its compiled HMAC helper: unless the
        # deployment names its own interpreter, executors run this one, which a cluster on
        # this host (or one installed alike) has at the same path.
        session.sparkContext.pythonExec = sys.executable
    return session


def _ready(batches):
    """``mapInArrow``'s function that passes rows through: run by :meth:`SparkEngine.start`
    for its side effect, a Python worker that has imported this module."""
    yield from batches


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

    def start(self) -> SparkEngine:
        """The session, and one task per executor core so that every executor has started
        and its Python worker has imported this module: Spark's ten-odd seconds of start-up,
        paid while the stage opens its inputs. The workers are kept for the stage's tasks
        (Spark reuses them)."""
        spark = self.spark
        tasks = max(2, spark.sparkContext.defaultParallelism)
        spark.range(tasks, numPartitions=tasks).mapInArrow(_ready, "id long").collect()
        return self

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
        filters and blocking keys) and write the keys, payload and crosswalk files
        themselves, block by block of the input, in one pass; the driver gets counts only.

        A Parquet file's blocks are runs of its row groups, which each task reads with
        pyarrow as DuckDB's path does (the driver reads the footer only: where each row
        group starts); a CSV file's are Spark's splits, read by Spark. Each output is one
        Parquet file, rows in the input's order: the blocks' files are joined in block
        order, page by page. A CSV block's first row number is known only once the blocks
        before it are counted: its tasks stage serials and record ids, and a second, narrow
        job numbers the crosswalk. The file must be where every executor can read it, and
        the scratch folders where every executor can write.
        """
        from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

        from linkage.prepare import PrepareTotals

        spark = self.spark
        path = job.input_path
        layout = _parquet_blocks(spark, path) if path.suffix.lower() == ".parquet" else None
        frame = None if layout else _read_input(spark, path, job.encoding)
        needed, record_id = job.columns(layout.schema.names if layout else frame.columns)
        job.step(1)
        attrs = list(job.holder.attributes)
        payload_types = (pa.schema([layout.schema.field(a) for a in attrs]) if layout
                         else to_arrow_schema(T.StructType([frame.schema[a] for a in attrs])))
        # Each output's blocks in a folder of its own, named after the output.
        targets = {"keys": job.keys_out, "payload": job.payload_out,
                   "crosswalk": job.crosswalk_out}
        with parts_beside(job.keys_out) as parts:
            folders = {kind: parts / f".{target.name}" for kind, target in targets.items()}
            task = _PrepareTask(job.holder, job.strategy, job.project_key, record_id,
                                str(path), needed,
                                {kind: str(folder) for kind, folder in folders.items()},
                                payload_types, layout.blocks if layout else None)
            if layout and not layout.blocks:
                blocks = []
            else:
                source = (spark.range(len(layout.blocks), numPartitions=len(layout.blocks))
                          if layout else
                          frame.select(*(F.col(_q(c)) for c in needed),
                                       F.input_file_block_start().alias("__start")))
                with _executor_errors(path):
                    blocks = sorted(source.mapInArrow(
                        task, from_arrow_schema(_BLOCK_DONE)).collect())
            totals = PrepareTotals()
            for block in blocks:
                totals.merge(PrepareTotals.from_dict(json.loads(block["stats"])))
            if totals.records == 0:
                return totals  # prepare refuses the file; nothing to write
            job.step(2)
            names = [_block_file(block["start"], block["attempt"]) for block in blocks]
            for kind in ("keys", "payload", *(("crosswalk",) if layout else ())):
                _join_parts(spark, [folders[kind] / name for name in names], targets[kind],
                            parts / f"{kind}.joined")
            if not layout:
                _number_crosswalk(spark, blocks, [folders["crosswalk"] / n for n in names],
                                  job.crosswalk_out, has_record_id=record_id is not None)
        return totals

    def match(self, keys: Mapping[str, pa.Table], recipes: Sequence[str]) -> MatchResult:
        frames = {h: self.spark.createDataFrame(t) for h, t in keys.items()}
        return _Matcher(self.spark, frames, recipes).run()

    def match_files(self, keys: Mapping[str, Path], recipes: Sequence[str]) -> MatchResult:
        return _Matcher(self.spark, keys, recipes).run()

    def link_files(self, keys: Mapping[str, Path], recipes: Sequence[str],
                   linkmap: Path | None) -> MatchResult:
        """The executors match, encipher the link ids (:class:`_LinkMapRows`) and write the
        link map; the driver gets counts only (``members`` comes back empty)."""
        matcher = _Matcher(self.spark, keys, recipes)
        members = matcher.cluster()
        result = matcher.result
        result.members = pa.table({"cluster": pa.array([], pa.int64()),
                                   "holder": pa.array([], pa.string()),
                                   "serial": pa.array([], pa.string()),
                                   "recipe": pa.array([], pa.string())})
        result.summary = matcher.summary()
        if linkmap is not None:
            # Clusters are numbered 1..N: each output part takes a fixed range of them, so
            # the parts come in cluster order without sampling the members first; the link
            # ids are enciphered once the rows are in place.
            from pyspark.sql.pandas.types import from_arrow_schema

            parts = int(self.spark.conf.get("spark.sql.shuffle.partitions"))
            part = F.floor((F.col("cluster") - 1) * parts / max(1, matcher.clusters))
            placed = (members.select("cluster", "holder", "sid_hi", "sid_lo")
                      .repartitionById(parts, part.cast("int"))
                      .sortWithinPartitions("cluster", "holder"))
            with parts_beside(linkmap) as folder:
                folder.mkdir(parents=True)
                done = placed.mapInArrow(
                    _LinkMapRows(LinkIds(), matcher.holders, str(folder)),
                    from_arrow_schema(PART_DONE)).collect()
                files = publish_parts(folder, [(d["part"], d["attempt"]) for d in done],
                                      LINKMAP_SCHEMA)
                _join_parts(self.spark, files, linkmap, folder / "merged.parquet")
        return result

    def compare_pairs(self, left: pa.Table, right: pa.Table,
                      fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                      cuts: Sequence[float], baselines: Mapping[str, float],
                      filters: Sequence[Mapping[str, Filters]] | None = None) -> np.ndarray:
        # The executors make their own filters from the tables: ``filters`` is not shipped.
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
        folder of part files, in link id order); only counts come back to the driver
        (:mod:`linkage.engines.spark_combine`).

        Where the link map repeats a link id for a holder, a payload repeats a linked serial
        or lacks one, the executors stop and the checks run again on a plan that joins row
        by row (:meth:`_mismatch`), so :class:`SerialMismatch` carries the same numbers as
        DuckDB's; nothing is published.

        The files must be where every executor can read them, and ``out`` where every
        executor can write: on one host, any folder; on a cluster, shared storage.
        """
        from pyspark.errors import PythonException

        from linkage.engines.spark_combine import MISFIT, write_combined

        try:
            rows, names = write_combined(self.spark, linkmap, payloads, out)
        except PythonException as exc:
            if MISFIT not in str(exc):
                raise
            links = self.spark.read.parquet(str(linkmap)).select("link_id", "holder", "serial")
            mismatch = self._mismatch(links, payloads)
            if any(mismatch.missing.values()) or mismatch.repeated:
                raise mismatch from None
            detail = next(line for line in str(exc).splitlines() if MISFIT in line)
            raise LinkageError(f"{linkmap.name}: {detail.split(MISFIT, 1)[1].lstrip(': ')}"
                               ) from None
        return rows, names

    def _mismatch(self, links: DataFrame, payloads: Mapping[str, tuple[Path, Sequence[str]]]
                  ) -> SerialMismatch:
        """The mismatch as joining row by row counts it (DuckDB's numbers): per holder, the
        rows whose linked serial the payload lacks, and rows beyond one per link id."""
        frame = links.select("link_id").distinct()
        flags = []
        for index, (holder, (path, _)) in enumerate(payloads.items()):
            mine = links.where(F.col("holder") == holder).select(
                F.col("link_id").alias(f"__l{index}"), F.col("serial").alias(f"__m{index}"))
            payload = self.spark.read.parquet(str(path)).select(
                F.col("serial").alias(f"__p{index}"))
            frame = (frame.join(mine, F.col("link_id") == F.col(f"__l{index}"), "left")
                     .join(payload, F.col(f"__m{index}") == F.col(f"__p{index}"), "left"))
            flags.append(F.sum((F.col(f"__m{index}").isNotNull()
                                & F.col(f"__p{index}").isNull()).cast("long")))
        rows, distinct, *missing = frame.agg(
            F.count(F.lit(1)), F.countDistinct("link_id"), *flags).first()
        return SerialMismatch({h: int(n or 0) for h, n in zip(payloads, missing, strict=True)},
                              int(rows - distinct))

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


#: What a prepare task returns for each block of the input it keyed: where the block
#: starts, its rows, what normalising counted (JSON) and the task attempt whose files hold it.
_BLOCK_DONE = pa.schema([("start", pa.int64()), ("rows", pa.int64()), ("stats", pa.string()),
                         ("attempt", pa.int64())])


def _block_file(start: int, attempt: int) -> str:
    """The name of a block's file (of each output, in the output's folder): blocks sort
    by start, and each task attempt writes files of its own."""
    return f"{start:020d}-{attempt}.parquet"


class _ParquetLayout:
    """A Parquet input's schema and blocks: (first row, row groups) for each run of row
    groups that one task reads."""

    def __init__(self, schema: pa.Schema, blocks: list[tuple[int, list[int]]]) -> None:
        self.schema, self.blocks = schema, blocks


def _parquet_blocks(spark: SparkSession, path: Path) -> _ParquetLayout:
    """``path``'s row groups in runs of about ``spark.sql.files.maxPartitionBytes`` (less
    where that would leave cores idle), as Spark would split the file; from its footer."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})") from None
    sizes = [meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)]
    limit = spark.conf.get("spark.sql.files.maxPartitionBytes", "128m")
    most = spark.sparkContext._jvm.org.apache.spark.network.util.JavaUtils.byteStringAsBytes(
        str(limit))
    target = max(1, min(most, sum(sizes) // max(1, spark.sparkContext.defaultParallelism)))
    blocks: list[tuple[int, list[int]]] = []
    row = held = 0
    for group, size in enumerate(sizes):
        if not blocks or held + size > target:
            blocks.append((row, []))
            held = 0
        blocks[-1][1].append(group)
        held += size
        row += meta.row_group(group).num_rows
    return _ParquetLayout(schema, blocks)


def _number_crosswalk(spark: SparkSession, blocks: Sequence, staged: Sequence[Path],
                      target: Path, *, has_record_id: bool) -> None:
    """Write the crosswalk of a file Spark's reader split: each block's staged rows
    (index in the block, record id, serial) numbered after the rows of the blocks before.
    Each staged file is read in one piece or in splits of its own, in order, and a union
    keeps its inputs' partitions in order: rows stay in the input's."""
    offset, numbered = 0, []
    for block, path in zip(blocks, staged, strict=True):
        row_number = F.col("__idx") + F.lit(offset + 1).cast("long")
        numbered.append(spark.read.parquet(str(path)).select(
            "__idx", row_number.alias("row_number"),
            (F.col("record_id") if has_record_id else row_number.cast("string"))
            .alias("record_id"), "serial"))
        offset += block["rows"]
    _write_single(_union(numbered), target, "zstd", dictionary=False, order=(),
                  drop=("__idx",))


class _PrepareTask:
    """``mapInArrow``'s function: blocks of the holder file in, keyed and written where the
    task runs, each block's keys, payload and crosswalk files. Out: one row per block
    (:data:`_BLOCK_DONE`). Runs in the executors; pickled with the mode's keys strategy
    and the project key, which keying needs there.

    With ``blocks`` (a Parquet file's row-group runs, :func:`_parquet_blocks`) its input
    is block numbers, and it reads each block's row groups itself; without, its input is
    the rows of Spark's read of the file, with their split's start (``__start``; a split's
    rows arrive together and in order), and the crosswalk it writes is staged (row index in
    the block instead of the row number, which :func:`_number_crosswalk` adds).

    A retried or speculative attempt writes files named by its own attempt id; the driver
    joins those of the attempt whose rows Spark returned, so a block's files always come
    from one attempt (one draw of serials).
    """

    def __init__(self, holder: HolderSpec, strategy: KeysStrategy, project_key: bytes,
                 record_id: str | None, input_path: str, needed: list[str],
                 folders: Mapping[str, str], payload_types: pa.Schema,
                 blocks: list[tuple[int, list[int]]] | None = None) -> None:
        self.holder, self.strategy, self.project_key = holder, strategy, project_key
        self.record_id, self.input_path, self.needed = record_id, input_path, needed
        self.folders, self.blocks = dict(folders), blocks
        first = (pa.field("row_number", pa.int64()) if blocks is not None
                 else pa.field("__idx", pa.int64()))
        self.schemas = {
            "keys": pa.schema([pa.field("serial", pa.string()), *strategy.schema()]),
            "payload": pa.schema([pa.field("serial", pa.string()), *payload_types]),
            "crosswalk": pa.schema([first, pa.field("record_id", pa.string()),
                                    pa.field("serial", pa.string())])}

    def __call__(self, batches):
        from pyspark import TaskContext

        from linkage.engines.duckdb import DuckDBEngine

        hasher = DuckDBEngine()
        hasher.threads = 1  # one task per executor core
        attempt = TaskContext.get().taskAttemptId()
        for folder in self.folders.values():
            Path(folder).mkdir(parents=True, exist_ok=True)
        runs = self._read_blocks(batches) if self.blocks is not None else _runs(batches)
        for start, tables in runs:
            block = _BlockFiles(self.folders, start, attempt, self.schemas)
            try:
                pending: list[pa.Table] = []  # several of Spark's batches keyed at once
                for table in tables:
                    pending.append(table.select(self.needed))
                    if sum(t.num_rows for t in pending) >= _KEY_ROWS:
                        self._key(block, pending, hasher)
                self._key(block, pending, hasher)
                yield block.close()
            finally:
                block.abandon()

    def _read_blocks(self, batches) -> Iterator[tuple[int, Iterator[pa.Table]]]:
        """(first row, its tables) of each block whose number comes in ``batches``."""
        for batch in batches:
            for number in batch.column(0).to_pylist():
                start, groups = self.blocks[number]
                yield start, self._read_groups(groups)

    def _read_groups(self, groups: list[int]) -> Iterator[pa.Table]:
        return _row_groups(self.input_path, groups, self.needed, _KEY_ROWS)

    def _key(self, block: _BlockFiles, pending: list[pa.Table], hasher: Engine) -> None:
        """Key the block's pending rows and write them to its files."""
        from linkage.prepare import prepare_batch

        if not pending:
            return
        rows = pa.concat_tables(pending)
        pending.clear()
        prepared = prepare_batch(rows, self.holder, self.strategy, self.project_key, hasher,
                                 self.record_id, Path(self.input_path))
        keys, payload, _ = prepared.tables(block.totals)
        index = np.arange(block.rows, block.rows + rows.num_rows, dtype=np.int64)
        if self.blocks is not None:  # numbered as DuckDB's path numbers them
            numbers = pa.array(index + block.start + 1)
            record_ids = (prepared.record_ids if prepared.record_ids is not None
                          else numbers.cast(pa.string()))
            first = numbers
        else:
            record_ids = (prepared.record_ids if prepared.record_ids is not None
                          else pa.nulls(rows.num_rows, pa.string()))
            first = pa.array(index)
        block.write("keys", keys)
        block.write("payload", payload)
        block.write("crosswalk", pa.table([first, record_ids, keys.column("serial")],
                                          names=self.schemas["crosswalk"].names))
        block.rows += rows.num_rows


def _row_groups(path: str, groups: list[int], columns: list[str], rows: int
                ) -> Iterator[pa.Table]:
    """``columns`` of a Parquet file's row ``groups``, read with pyarrow where the task
    runs, ``rows`` at a time; an unreadable file is an :class:`InputError` naming it."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        for batch in file.iter_batches(batch_size=rows, row_groups=groups, columns=columns,
                                       use_threads=False):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})") from None


def _runs(batches) -> Iterator[tuple[int, Iterator[pa.Table]]]:
    """Spark's batches of a read file (with ``__start``) as (split start, its tables), one
    split after another; a split that comes back after another is an error."""
    from itertools import groupby

    def pieces() -> Iterator[tuple[int, pa.Table]]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            starts = table.column("__start").to_numpy()
            bounds = np.flatnonzero(np.diff(starts)) + 1
            for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(starts)], strict=True):
                yield int(starts[lo]), table.slice(lo, hi - lo)

    done: set[int] = set()
    for start, run in groupby(pieces(), key=operator.itemgetter(0)):
        if start in done:
            raise LinkageError(f"Spark read split {start} of the file in two pieces")
        done.add(start)
        yield start, (table for _, table in run)


class _BlockFiles:
    """One block's three Parquet files, written by a prepare task in row groups of
    :data:`_ARROW_GROUP_ROWS` rows, and what normalising its rows counted."""

    def __init__(self, folders: Mapping[str, str], start: int, attempt: int,
                 schemas: Mapping[str, pa.Schema]) -> None:
        import pyarrow.parquet as pq

        from linkage.prepare import PrepareTotals

        self.start, self.attempt, self.totals, self.rows = start, attempt, PrepareTotals(), 0
        name = _block_file(start, attempt)
        self.schemas = schemas
        self.writers = {kind: pq.ParquetWriter(
            Path(folders[kind]) / name, schema,
            compression=COMPRESSION.get(kind, "zstd"),
            # Serials and keys are random: a dictionary would only be built and dropped.
            use_dictionary=kind == "payload") for kind, schema in schemas.items()}
        self.pending: dict[str, list[pa.Table]] = {kind: [] for kind in schemas}
        self.waiting = 0

    def write(self, kind: str, table: pa.Table) -> None:
        schema = self.schemas[kind]
        self.pending[kind].append(pa.table(
            [(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c).cast(f.type)
             for c, f in zip(table.columns, schema, strict=True)], schema=schema))
        if kind == "crosswalk":  # written last of the three for each batch
            self.waiting += table.num_rows
            if self.waiting >= _ARROW_GROUP_ROWS:
                self._flush()

    def abandon(self) -> None:
        """Close the files as they are (a failed task's files are never joined)."""
        for writer in self.writers.values():
            if writer.is_open:
                writer.close()

    def _flush(self) -> None:
        for kind, tables in self.pending.items():
            if tables:
                self.writers[kind].write_table(pa.concat_tables(tables),
                                               row_group_size=_ARROW_GROUP_ROWS)
        self.pending = {kind: [] for kind in self.schemas}
        self.waiting = 0

    def close(self) -> pa.RecordBatch:
        """Finish the files; the block's row of :data:`_BLOCK_DONE`."""
        try:
            self._flush()
        finally:
            self.abandon()
        return pa.RecordBatch.from_pydict(
            {"start": [self.start], "rows": [self.rows],
             "stats": [json.dumps(self.totals.to_dict())], "attempt": [self.attempt]},
            schema=_BLOCK_DONE)


#: Rows per row group of a file the executors write with pyarrow (Spark hands them over
#: in Arrow batches of 10,000).
_ARROW_GROUP_ROWS = 131_072
#: Rows a prepare task keys at once: Spark's batches of 10,000 rows, gathered.
_KEY_ROWS = 65_536


def _join_parts(spark: SparkSession, files: Sequence[Path], target: Path,
                scratch: Path) -> None:
    """``files`` (one schema) as the one file ``target``, rows in the files' order."""
    if len(files) == 1:
        os.replace(files[0], target)
    else:
        _merge_parts(spark, files, scratch)
        os.replace(scratch, target)


class _LinkIdColumn:
    """``mapInArrow``'s function: each row's ``link_id`` (:class:`LinkIds` of its first
    column, a cluster number) appended. Runs in the executors, pickled with the key."""

    def __init__(self, ids: LinkIds) -> None:
        self.ids = ids

    def __call__(self, batches):
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, self.ids.of(batch.column(0).to_numpy())],
                names=[*batch.schema.names, "link_id"])


class _LinkMapRows:
    """``mapInArrow``'s function: exact members (``cluster``, ``holder`` index, the
    serial's two longs) as link map rows, in the order they come, written as the task's
    part of the link map in ``folder`` (:class:`PartWriter`): each cluster's link id
    (:class:`LinkIds`), the holder's name, the serial's hex (numpy, not Spark's string
    functions)."""

    def __init__(self, ids: LinkIds, holders: Sequence[str], folder: str) -> None:
        self.ids, self.holders, self.folder = ids, list(holders), folder

    def __call__(self, batches):
        # Link ids and serials are random: a dictionary would only be built and dropped.
        yield from written_part(self.folder, LINKMAP_SCHEMA, self._rows(batches),
                                compression=COMPRESSION["linkmap"], dictionary=False)

    def _rows(self, batches) -> Iterator[pa.RecordBatch]:
        names = pa.array(self.holders, pa.string())
        for batch in batches:
            words = np.empty((batch.num_rows, 2), ">i8")
            words[:, 0] = batch.column(2).to_numpy()
            words[:, 1] = batch.column(3).to_numpy()
            yield pa.RecordBatch.from_arrays(
                [self.ids.of(batch.column(0).to_numpy()), names.take(batch.column(1)),
                 hex32(words.tobytes())], schema=LINKMAP_SCHEMA)


def with_link_ids(frame: DataFrame) -> DataFrame:
    """``frame`` (its first column a cluster number, a long) with each row's ``link_id``
    (:class:`LinkIds`), under a key drawn afresh for each call."""
    schema = T.StructType([*frame.schema.fields, T.StructField("link_id", T.StringType())])
    return frame.mapInArrow(_LinkIdColumn(LinkIds()), schema)


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
    is only sorted within; with no ``order`` at all, that each partition's rows are in
    order too (files read as they were written).
    """
    with parts_beside(target) as parts:
        ordered = (frame.orderBy(*order) if shuffle
                   else frame.sortWithinPartitions(*order) if order else frame)
        (ordered.drop(*drop)
         .write.option("compression", compression)
         .option("parquet.enable.dictionary", str(dictionary).lower())
         .parquet(str(parts)))
        # part-NNNNN: the task's partition number, so the names sort in partition order.
        written = sorted(parts.glob("part-*"))
        if not written:
            raise LinkageError(f"Spark wrote no file for {target.name}")
        _join_parts(frame.sparkSession, written, target, parts / "merged.parquet")


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


#: Bits of a key's prefix that bucket it: rows are spread over the executors by bucket, and
#: a key's bucket sorts as the key does, so new clusters are numbered bucket by bucket with
#: the numbers a global sort by key would give. Keys are HMAC outputs: 2^16 even buckets.
_BUCKET_BITS = 16
#: A record: its serial's bits and its holder, the key of the members' join.
_RECORD = ("sid_hi", "sid_lo", "holder")
#: Flips a long's sign bit: signed order of the flipped values is unsigned order of the bits.
_SIGN = -(2**63)


#: Each hex digit's value by its byte (255: not a lower-case hex digit).
_NIBBLES = np.full(256, 255, np.uint8)
_NIBBLES[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def _wide_schema(recipes: Sequence[str]) -> pa.Schema:
    return pa.schema([("holder", pa.int32()), ("sid_hi", pa.int64()), ("sid_lo", pa.int64()),
                      *((f"k{i}_{part}", pa.int64()) for i in range(len(recipes))
                        for part in ("hi", "lo"))])


def _words(octets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 16 bytes as two big-endian 64-bit words each, as int64 (two's complement)."""
    words = np.ascontiguousarray(octets).view(">u8").astype(np.uint64)
    return words[:, 0].view(np.int64), words[:, 1].view(np.int64)


def _offsets(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A (binary or string) array's value offsets and its data buffer, as numpy."""
    offsets = np.frombuffer(array.buffers()[1], np.int32)[
        array.offset:array.offset + len(array) + 1]
    data = array.buffers()[2]
    return offsets, (np.frombuffer(data, np.uint8) if data is not None
                     else np.zeros(0, np.uint8))


def _serial_words(serials: pa.Array, holder_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The serials' 128 bits; a serial that is not 32 lower-case hex digits (the only ones
    that come back from the bits unchanged) is refused, naming the holder, as the DuckDB
    matcher refuses it."""
    n = len(serials)
    bad = serials.null_count > 0
    if not bad:
        offsets, data = _offsets(serials)
        bad = bool(np.any(np.diff(offsets) != 32))
    if not bad:
        nibbles = _NIBBLES[data[offsets[0]:offsets[0] + 32 * n]].reshape(n, 32)
        bad = bool(np.any(nibbles == 255))
    if bad:
        raise LinkageError(f"keys file of holder '{holder_id}': {BAD_SERIAL}")
    return _words((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])


def _key_words(keys: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each key's first 128 bits (a shorter key's bytes as a big-endian number, as DuckDB's
    matcher reads its hex) as two longs, sign-flipped so that they sort as the unsigned key
    does; a null key stays null."""
    offsets, data = _offsets(keys)
    lengths = np.minimum(np.diff(offsets), 16)
    lanes = np.arange(16)
    pad = (16 - lengths)[:, None]
    at = offsets[:-1, None] + lanes - pad
    filled = lanes >= pad
    octets = np.where(filled, data[np.where(filled, at, 0)] if data.size else 0, 0)
    hi, lo = _words(octets.astype(np.uint8))
    sign = np.int64(_SIGN)
    absent = (np.asarray(keys.is_null()) if keys.null_count
              else np.zeros(len(keys), bool))
    return (pa.array(hi ^ sign, mask=absent), pa.array(lo ^ sign, mask=absent))


def _wide_batch(table: pa.Table, holder: int, holder_id: str, recipes: Sequence[str]
                ) -> pa.RecordBatch:
    """A holder's keys, as :func:`_wide` lays them out."""
    hi, lo = _serial_words(table.column("serial").combine_chunks().cast(pa.string()),
                          holder_id)
    columns = [pa.array(np.full(table.num_rows, holder, np.int32)), pa.array(hi),
               pa.array(lo)]
    for recipe in recipes:
        columns += _key_words(table.column(recipe).combine_chunks().cast(pa.binary()))
    return pa.RecordBatch.from_arrays(columns, schema=_wide_schema(recipes))


class _WideTask:
    """``mapInArrow``'s function for :func:`_wide`: a keys file's row-group runs (block
    numbers in), each read with pyarrow where the task runs; or, without ``path``, the rows
    of a frame."""

    def __init__(self, holder: int, holder_id: str, recipes: Sequence[str],
                 path: str | None = None, blocks: list[tuple[int, list[int]]] | None = None
                 ) -> None:
        self.holder, self.holder_id, self.recipes = holder, holder_id, list(recipes)
        self.path, self.blocks = path, blocks

    def __call__(self, batches):
        for batch in batches:
            if self.path is None:
                yield _wide_batch(pa.Table.from_batches([batch]), self.holder,
                                  self.holder_id, self.recipes)
                continue
            for number in batch.column(0).to_pylist():
                for part in _row_groups(self.path, self.blocks[number][1],
                                        ["serial", *self.recipes], _ARROW_GROUP_ROWS):
                    yield _wide_batch(part, self.holder, self.holder_id, self.recipes)


def _wide(spark: SparkSession, source: Path | DataFrame, holder: int, holder_id: str,
          recipes: Sequence[str]) -> DataFrame:
    """A holder's keys file (or frame) as fixed-width columns, as the DuckDB matcher packs
    it: the serial's 128 bits (``sid_hi``, ``sid_lo``), each recipe's key's first 128 bits
    (``k<i>_hi``, ``k<i>_lo``, sign-flipped so that they sort as the unsigned key does).
    Longs shuffle, join, group and sort without a string or byte comparison, and their
    aggregates hash where a string's must sort. A file is read by the executors, a run of
    row groups per task, and converted with numpy (Spark's string functions took most of
    the matcher's first minute at 10M); a bad serial fails the job, naming the holder."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(_wide_schema(recipes))
    if isinstance(source, DataFrame):
        return source.select("serial", *(_q(r) for r in recipes)).mapInArrow(
            _WideTask(holder, holder_id, recipes), schema)
    layout = _parquet_blocks(spark, source)
    task = _WideTask(holder, holder_id, recipes, str(source), layout.blocks)
    return spark.range(len(layout.blocks), numPartitions=max(1, len(layout.blocks))) \
        .mapInArrow(task, schema)


def _serial(hi: str, lo: str) -> Column:
    """The serial's 32 hex digits back from its two longs."""
    return F.lower(F.concat(F.lpad(F.hex(hi), 16, "0"), F.lpad(F.hex(lo), 16, "0")))


class _Matcher:
    """The DuckDB engine's recipe-by-recipe matching, step for step, in Spark.

    The holders' keys files are read once, into fixed-width columns (:func:`_wide`), and
    held in the executors, partitioned by record (serial and holder) as each step's
    members are: a record's keys and its cluster so far meet in the same task, with no
    shuffle of either. A step is one shuffle of the recipe's keys (each with that
    cluster) by key bucket, then one grouping by key that counts each holder's records of
    the key and, where a holder has one, keeps its serial and cluster. Every count the step
    reports and every record it links follows from that one row per key, without a join
    back. A new key's place among its bucket's new keys, in key order, numbers its cluster
    within the bucket; the counts of the buckets before it (a few thousand rows) give the
    rest of the number a global sort by key would give. Inside, a holder is its index in
    name order (one column of counts, serials and clusters each per holder, as the DuckDB
    engine counts per holder).
    """

    def __init__(self, spark: SparkSession, sources: Mapping[str, Path | DataFrame],
                 recipes: Sequence[str]) -> None:
        self.spark = spark
        self.recipes = list(recipes)
        self.holders = sorted(sources)
        self.wide = _union([_wide(spark, sources[holder], h, holder, self.recipes)
                            for h, holder in enumerate(self.holders)])
        self.partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
        #: The members so far (cluster, holder, sid_hi, sid_lo, recipe): one frame per step
        #: that added any, each materialised once.
        self.parts: list[DataFrame] = []
        self.clusters = 0
        #: What the link report says, counted step by step as the clusters form.
        self.formed = dict.fromkeys(self.recipes, 0)
        self.linked: dict[tuple[str, str], int] = {}
        self.result = MatchResult(members=pa.table({}))

    def summary(self) -> LinkSummary:
        """The :class:`LinkSummary` of :meth:`cluster`'s members, from the steps' counts: a
        step's new clusters are the ones its recipe formed (later steps only join them), and
        its added records are the ones that linked on it."""
        return LinkSummary(self.clusters, dict(self.formed), dict(self.linked))

    def _members(self) -> DataFrame | None:
        return _union(self.parts) if self.parts else None

    def cluster(self) -> DataFrame:
        """Match recipe by recipe; the members (``cluster``, ``holder`` and ``recipe`` as
        indices, the serial's bits), left in Spark."""
        try:
            self.wide = self._by_record(self.wide)
        except Exception as exc:
            found = re.search(r"keys file of holder '[^']*': " + re.escape(BAD_SERIAL),
                              str(exc))
            if found:
                raise LinkageError(found.group(0)) from None
            raise
        try:
            for index, recipe in enumerate(self.recipes):
                self._step(index, recipe)
        finally:
            self.wide.unpersist()
        members = self._members()
        if members is None:
            return self.spark.createDataFrame(
                [], "cluster bigint, holder int, sid_hi bigint, sid_lo bigint, recipe int")
        return members

    def named(self, members: DataFrame) -> DataFrame:
        """:meth:`cluster`'s members with the holder's name and the serial's hex."""
        names = F.array(*(F.lit(h) for h in self.holders))
        return members.select("cluster", F.element_at(names, F.col("holder") + 1)
                              .alias("holder"), _serial("sid_hi", "sid_lo").alias("serial"),
                              "recipe")

    def run(self) -> MatchResult:
        members = _to_arrow(self.named(self.cluster()).orderBy("cluster", "holder"))
        members = members.cast(pa.schema([("cluster", pa.int64()), ("holder", pa.string()),
                                          ("serial", pa.string()), ("recipe", pa.int32())]))
        names = pa.array(self.recipes, pa.string())
        self.result.members = members.set_column(
            3, "recipe", names.take(members.column("recipe").cast(pa.int64())))
        return self.result

    def _by_record(self, frame: DataFrame) -> DataFrame:
        """``frame`` hash-partitioned by record, sorted by it within each part, and held,
        as the keys and every step's members are: their sort-merge join then neither moves
        nor sorts either side (sorting the keys again in every step cost more than
        sorting them once; a hash join of the members, which a table of millions makes
        slow to build, cost more still)."""
        return self._held(frame.repartition(self.partitions, *_RECORD)
                          .sortWithinPartitions(*_RECORD))

    def _held(self, frame: DataFrame) -> DataFrame:
        """``frame`` held in the executors, knowing its partitioning: adaptive execution is
        off while it runs, since an adaptive plan's partitioning is unknown and the held
        frame would forget it."""
        conf = self.spark.conf
        adaptive = conf.get("spark.sql.adaptive.enabled")
        conf.set("spark.sql.adaptive.enabled", "false")
        try:
            return frame.localCheckpoint(eager=True)
        finally:
            conf.set("spark.sql.adaptive.enabled", adaptive)

    def _keys(self, index: int) -> DataFrame:
        """The recipe's keys of every holder: ``holder`` (index), the serial's bits, the
        key's (``key_hi``, ``key_lo``)."""
        return self.wide.where(F.col(f"k{index}_hi").isNotNull()).select(
            "holder", "sid_hi", "sid_lo", F.col(f"k{index}_hi").alias("key_hi"),
            F.col(f"k{index}_lo").alias("key_lo"))

    def _step(self, index: int, recipe: str) -> None:
        # Each record's cluster so far: a join with each step's members, partitioned alike.
        cand = self._keys(index)
        for number, part in enumerate(self.parts):
            cand = cand.join(part.select(*_RECORD, F.col("cluster").alias(f"__c{number}")),
                             list(_RECORD), "left")
        cand = cand.withColumn("cluster", F.coalesce(
            *(F.col(f"__c{n}") for n in range(len(self.parts))), F.lit(None).cast("long")))
        holders = range(len(self.holders))
        # One shuffle, by bucket, then one row per key: each holder's records of it, and
        # (telling where the holder has just one) that record's serial and cluster. Every
        # aggregate is of longs, so the grouping hashes.
        cand = (cand.withColumn("bucket", F.shiftright("key_hi", 64 - _BUCKET_BITS))
                .repartition("bucket"))

        def of(h: int, column: str) -> Column:
            return F.when(F.col("holder") == h, F.col(column))

        per_key = cand.groupBy("key_hi", "key_lo", "bucket").agg(
            *(F.count(of(h, "holder")).alias(f"n{h}") for h in holders),
            # Read only where the holder has one record of the key: any aggregate is it.
            *(F.max(of(h, "sid_hi")).alias(f"hi{h}") for h in holders),
            *(F.max(of(h, "sid_lo")).alias(f"lo{h}") for h in holders),
            *(F.min(of(h, "cluster")).alias(f"c{h}") for h in holders))

        def n(h: int) -> Column:
            return F.col(f"n{h}")

        total = _total(n(h) for h in holders)
        # A key only one record has links nothing and counts in none of the step's figures
        # (no duplicate, nothing shared): most keys, dropped before the sort and the
        # checkpoint.
        per_key = per_key.where(total >= 2)

        # A holder with one record of the key is "uniq" in it; with more, they are its
        # duplicates (kept out of links).
        uniq = {h: n(h) == 1 for h in holders}
        free = {h: uniq[h] & F.col(f"c{h}").isNull() for h in holders}
        clusters = [F.when(uniq[h], F.col(f"c{h}")) for h in holders]
        n_free = _total(free[h].cast("int") for h in holders)
        low = F.least(*clusters) if len(clusters) > 1 else clusters[0]
        high = F.greatest(*clusters) if len(clusters) > 1 else clusters[0]
        # A key groups (links, or is refused) where two uniq records share it and one of
        # them is not linked yet. None linked: a new cluster; all in one: join it.
        grouped = (_total(uniq[h].cast("int") for h in holders) >= 2) & (n_free >= 1)
        new = grouped & low.isNull()
        attach = grouped & (low == high)
        kind = F.when(attach, F.lit(1)).when(new, F.lit(2))
        linked = {h: kind.isNotNull() & uniq[h] for h in holders}
        # Held once, narrow: a key's records only where they join a cluster; the key
        # itself only where it forms one (new clusters are numbered in key order, sorting
        # only those keys: in the later steps, a few). Held by bucket, as shuffled.
        step = per_key.select(
            "bucket", kind.alias("kind"), F.when(attach, low).alias("cluster"),
            F.when(new, F.col("key_hi")).alias("key_hi"),
            F.when(new, F.col("key_lo")).alias("key_lo"),
            (F.when(grouped & (low != high), n_free).otherwise(0)
             ).alias("would_merge_clusters"),
            F.when(_any(n(h) > 1 for h in holders), n_free).otherwise(0)
            .alias("matches_a_duplicate"),
            F.when(attach, n_free).otherwise(0).alias("attach"),
            new.cast("int").alias("new_keys"),
            *(n(h) for h in holders),
            *(F.when(n(h) < total, n(h)).otherwise(0).alias(f"shared{h}") for h in holders),
            *(F.when(linked[h], F.col(f"hi{h}")).alias(f"hi{h}") for h in holders),
            *(F.when(linked[h], F.col(f"lo{h}")).alias(f"lo{h}") for h in holders),
            *(free[h].alias(f"free{h}") for h in holders),
        )
        step = self._held(step)
        try:
            self._link(step, index, recipe)
        finally:
            step.unpersist()

    def _link(self, step: DataFrame, index: int, recipe: str) -> None:
        """Count the step's duplicates, shared records and conflicts, and add its links to
        the members."""
        holders = range(len(self.holders))
        names = ["would_merge_clusters", "matches_a_duplicate", "attach", "new_keys"]
        sums = [F.sum(F.col(c).cast("long")).alias(c) for c in names]
        for h in holders:
            dup = F.col(f"n{h}") > 1
            sums += [F.sum(F.col(f"shared{h}").cast("long")).alias(f"shared{h}"),
                     F.sum(F.when(dup, F.col(f"n{h}")).cast("long")).alias(f"records{h}"),
                     F.count(F.when(dup, 1)).alias(f"keys{h}")]
        row = step.agg(*sums).first()
        for h, holder in enumerate(self.holders):
            if row[f"shared{h}"]:
                self.result.shared.setdefault(holder, {})[recipe] = int(row[f"shared{h}"])
            if row[f"keys{h}"]:
                self.result.duplicates.setdefault(holder, {})[recipe] = (
                    int(row[f"records{h}"]), int(row[f"keys{h}"]))
        totals = {c: int(row[c] or 0) for c in names}
        added = []
        many_to_one = 0
        held = []
        columns = ("cluster", "holder", "sid_hi", "sid_lo", F.lit(index).alias("recipe"))
        if totals["attach"]:
            attach = _records(step.where(F.col("kind") == 1).select(
                "cluster",
                *(F.when(F.col(f"free{h}"), F.col(f"{part}{h}")).alias(f"{part}{h}")
                  for part in ("hi", "lo") for h in holders)), holders)
            # Joining a record to a cluster that already has one of its holder's records
            # (or that another record of its holder joins too) would make the link
            # many-to-one: refuse it.
            members = self._members().select("cluster", "holder").join(
                attach.select("cluster").distinct(), "cluster", "left_semi")
            crowded = (attach.select("cluster", "holder").unionByName(members)
                       .groupBy("cluster", "holder").count().where(F.col("count") > 1)
                       .select("cluster", "holder", F.lit(True).alias("crowded")))
            attach = attach.join(crowded, ["cluster", "holder"], "left") \
                .localCheckpoint(eager=True)
            held.append(attach)
            many_to_one = attach.where(F.col("crowded").isNotNull()).count()
            added.append(attach.where(F.col("crowded").isNull()).select(*columns))
        if totals["new_keys"]:
            # Each bucket's new clusters follow those of the buckets before it.
            fresh = step.where(F.col("kind") == 2)
            before = Window.orderBy("bucket").rowsBetween(Window.unboundedPreceding, -1)
            offsets = fresh.groupBy("bucket").count().select(
                "bucket", (F.lit(self.clusters) + F.coalesce(F.sum("count").over(before),
                                                             F.lit(0))).alias("offset"))
            # A new key's number within its bucket: its place among the bucket's new
            # keys in key order (the step is held by bucket: no shuffle).
            rank = F.row_number().over(Window.partitionBy("bucket").orderBy("key_hi",
                                                                            "key_lo"))
            new = fresh.withColumn("rank", rank).join(
                offsets.hint("shuffle_hash"), "bucket").select(
                (F.col("offset") + F.col("rank")).alias("cluster"),
                *(F.col(f"{part}{h}") for part in ("hi", "lo") for h in holders))
            added.append(_records(new, holders).select(*columns))
        self.result.conflicts[recipe] = {
            "many_to_one": int(many_to_one),
            "would_merge_clusters": totals["would_merge_clusters"],
            "matches_a_duplicate": totals["matches_a_duplicate"]}
        self.clusters += totals["new_keys"]
        self.formed[recipe] += totals["new_keys"]
        if added:
            part = self._by_record(_union(added))
            self.parts.append(part)
            for h, count in part.groupBy("holder").count().collect():
                self.linked[(self.holders[h], recipe)] = int(count)
        for frame in held:
            frame.unpersist()


def _records(frame: DataFrame, holders: Iterable[int]) -> DataFrame:
    """One row (``cluster``, ``holder``, ``sid_hi``, ``sid_lo``) per holder's serial
    (``hi<holder>``, ``lo<holder>``) that is set in a row of ``frame``."""
    records = F.array(*(F.struct(F.lit(h).alias("holder"), F.col(f"hi{h}").alias("sid_hi"),
                                 F.col(f"lo{h}").alias("sid_lo"))
                        for h in holders))
    return frame.select("cluster", F.inline(records)).where(F.col("sid_hi").isNotNull())


def _total(columns: Iterable[Column]) -> Column:
    return reduce(operator.add, columns)


def _any(columns: Iterable[Column]) -> Column:
    return reduce(operator.or_, columns)


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


__all__ = ["SparkEngine", "spark_session"]
