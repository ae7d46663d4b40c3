"""The cluster engine: Apache Spark (PySpark), for deployments that outgrow one machine.

It computes exactly what :mod:`linkage.engines.duckdb` computes: the same HMAC bytes, the
same cluster numbers (new clusters numbered by key order, after the ones already formed),
the same combined rows. The pipeline draws link ids after matching, so both engines give
the same link map up to those random ids, and a test holds them to it.

Tests and the CLI run Spark in local mode; ``spark_session()`` starts one session per
process (JVM start-up costs tens of seconds) and reuses it. Set ``PSEUDOLINK_SPARK_MASTER``
to run against a cluster instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from linkage.engines.base import Engine, MatchResult
from linkage.keys.linkage_key import SEPARATOR, hmac_pads
from linkage.spec import Recipe

DEFAULT_MASTER = "local[2]"


@lru_cache(maxsize=1)
def spark_session() -> SparkSession:
    """The process's Spark session: local, bound to loopback, no web UI, few partitions."""
    # Read by the JVM at launch, before any config: keeps every Spark socket on loopback.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.appName("pseudolink")
        .master(os.environ.get("PSEUDOLINK_SPARK_MASTER", DEFAULT_MASTER))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("PSEUDOLINK_SPARK_PARTITIONS",
                                                                "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("PSEUDOLINK_SPARK_MEMORY", "2g"))
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _to_arrow(frame: DataFrame) -> pa.Table:
    return frame.toArrow()


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, session: SparkSession | None = None) -> None:
        self._session = session

    @property
    def spark(self) -> SparkSession:
        if self._session is None:
            self._session = spark_session()
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
