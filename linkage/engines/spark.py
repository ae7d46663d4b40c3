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

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from linkage.engines.base import Engine, MatchResult
from linkage.errors import LinkageError, SerialMismatch
from linkage.keys.linkage_key import SEPARATOR, hmac_pads
from linkage.scratch import watch
from linkage.spec import Recipe

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

    def match(self, keys: Mapping[str, pa.Table], recipes: Sequence[str]) -> MatchResult:
        frames = {h: self.spark.createDataFrame(t) for h, t in keys.items()}
        return _Matcher(self.spark, frames, recipes).run()

    def match_files(self, keys: Mapping[str, Path], recipes: Sequence[str]) -> MatchResult:
        frames = {h: self.spark.read.parquet(str(p)) for h, p in keys.items()}
        return _Matcher(self.spark, frames, recipes).run()

    def compare_pairs(self, left: pa.Table, right: pa.Table,
                      fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                      cuts: Sequence[float], baselines: Mapping[str, float]) -> np.ndarray:
        # Imported here: fuzzy mode's numpy code is shipped to the executors from there.
        from linkage.engines.spark_fuzzy import spark_levels

        return spark_levels(self.spark, left, right, fields, li, ri, cuts, baselines)

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

    def run(self) -> MatchResult:
        self._shared()
        for index, recipe in enumerate(self.recipes):
            self._step(index, recipe)
        members = _to_arrow(self._sql(
            "select cluster, holder, serial, recipe from pl_members order by cluster, holder"))
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
