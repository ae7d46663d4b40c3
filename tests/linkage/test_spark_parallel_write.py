"""On the standalone test cluster, Spark writes each output with many tasks at once, and
what a party receives is still the one sealed envelope DuckDB's run gives: the same rows,
in the same order, one file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from linkage.engines import spark as spark_engine_module
from tests.linkage.conftest import PASSPHRASE
from tests.linkage.test_spark_cluster import HOLDERS, Deployment, _report

pytestmark = pytest.mark.spark

#: Row groups of the holders' files: small, so that Spark splits each file into several
#: partitions (a file is split at row groups).
ROW_GROUP = 250


@pytest.fixture(scope="module")
def blocky_source(tmp_path_factory) -> Path:
    """Registers of a few thousand people, each file in many row groups."""
    out = tmp_path_factory.mktemp("cluster-blocky")
    linkage.generate_synthetic_data(out, 2000, areas=anonymize.load_admin_areas(), seed=3,
                                    typo_rate=0.05)
    for holder_id in HOLDERS:
        path = out / f"{holder_id}.parquet"
        pq.write_table(pq.read_table(path), path, row_group_size=ROW_GROUP)
    return out


@contextmanager
def _settings(spark, **settings: str) -> Iterator[None]:
    """Spark SQL settings for a while, restored after."""
    before = {name: spark.conf.get(name, None) for name in settings}
    for name, value in settings.items():
        spark.conf.set(name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                spark.conf.unset(name)
            else:
                spark.conf.set(name, value)


#: Small input splits: prepare's tasks each read a few row groups, as at scale each reads
#: a block of a large file.
SMALL_SPLITS = {"spark.sql.files.maxPartitionBytes": "32k"}
#: Shuffle partitions not merged by size: the link map is written by as many tasks as
#: there are shuffle partitions, as at scale.
UNMERGED_SHUFFLE = {"spark.sql.adaptive.coalescePartitions.enabled": "false"}


@pytest.fixture
def on_cluster(spark_engine, monkeypatch) -> list[str]:
    """CLI options that put a stage on the test cluster, its session already started."""
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PSEUDOLINK_SPARK_MASTER", raising=False)
    spark_engine.spark  # noqa: B018 - started with the test session's result limit
    return ["--engine", "spark", "--spark-master", spark_engine.master]


def _opened(deployment: Deployment, holder_id: str, half: str, party: str):
    manifest = linkage.ProjectManifest.load(deployment.work / "data" / deployment.project_id)
    return linkage.read_envelope(deployment.out / f"{holder_id}.{half}.age",
                                 deployment.work / "keys", party, PASSPHRASE, manifest)


def _failing_once(real: type, marker: Path) -> type:
    """A prepare task whose first attempt at the first partition dies after it wrote a
    block's files, as a task on a lost executor does: Spark runs it again, and the new
    attempt draws other serials for the same rows."""

    class FailingOnce(real):
        def __call__(self, batches):
            from pyspark import TaskContext

            context = TaskContext.get()
            for row in super().__call__(batches):
                yield row
                if context.partitionId() == 0 and context.attemptNumber() == 0:
                    marker.touch()
                    raise RuntimeError("executor lost (injected by the test)")

    return FailingOnce


def test_outputs_written_by_several_tasks_are_one_envelope_as_duckdbs(
        blocky_source, party_keys, on_cluster, spark_engine, monkeypatch, tmp_path):
    merged: list[tuple[str, int]] = []
    real_merge = spark_engine_module._merge_parts

    def counting_merge(spark, files, target):
        merged.append((files[0].parent.name, len(files)))
        real_merge(spark, files, target)

    monkeypatch.setattr(spark_engine_module, "_merge_parts", counting_merge)
    # One prepare task fails once after writing: only the retry's files may be joined.
    retried = tmp_path / "task-retried"
    monkeypatch.setattr(spark_engine_module, "_PrepareTask",
                        _failing_once(spark_engine_module._PrepareTask, retried))
    spark = spark_engine.spark
    deployments, results = {}, {}
    for name, options in (("duckdb", []), ("spark", on_cluster)):
        deployments[name] = Deployment(tmp_path / name, party_keys, blocky_source, "exact")
        with _settings(spark, **SMALL_SPLITS):
            splits = spark.read.parquet(str(blocky_source / "ssis.parquet"))
            assert splits.rdd.getNumPartitions() >= 3
            deployments[name].prepare(options)
        with _settings(spark, **UNMERGED_SHUFFLE):
            results[name] = deployments[name].link_and_combine("linked", options)

    assert retried.exists()
    # Spark's keys, payload and crosswalk of each holder, and the link map, each came from
    # several part files...
    for output, times in (("keys.parquet", 2), ("payload.parquet", 2), ("crosswalk", 2),
                          ("linkmap.parquet", 1)):
        counts = [n for folder, n in merged if output in folder]
        assert len(counts) == times and min(counts) >= 2, (output, merged)
    # ...and each reached its party as one sealed file, nothing left beside it.
    spark, duck = deployments["spark"], deployments["duckdb"]
    assert sorted(p.name for p in spark.out.iterdir()) == sorted(
        p.name for p in duck.out.iterdir())
    for holder_id in HOLDERS:
        # Row for row as DuckDB's, the input's order (serials are random, and each
        # deployment's project key is its own: its keys are compared by where they are
        # missing, and through the clusters below).
        keys = {n: _opened(d, holder_id, "keys", "keymanager") for n, d in deployments.items()}
        assert keys["spark"].num_rows == keys["duckdb"].num_rows
        for recipe in keys["duckdb"].column_names[1:]:
            assert (keys["spark"].column(recipe).is_null().to_pylist()
                    == keys["duckdb"].column(recipe).is_null().to_pylist())
        payloads = {n: _opened(d, holder_id, "payload", "agency")
                    for n, d in deployments.items()}
        assert payloads["spark"].drop(["serial"]).equals(payloads["duckdb"].drop(["serial"]))
        # Each record keeps its serial across the halves and the holder's crosswalk, and
        # the retried task's rows were counted once (the reports are DuckDB's).
        assert keys["spark"].column("serial").equals(payloads["spark"].column("serial"))
        crosswalk = pq.read_table(linkage.crosswalk_path(spark.work / "keys",
                                                         spark.project_id, holder_id))
        assert crosswalk.column("serial").equals(keys["spark"].column("serial"))
        assert crosswalk.column("row_number").to_pylist() == list(
            range(1, crosswalk.num_rows + 1))
        assert (_report(spark.out / f"{holder_id}.prepare.json")
                == _report(duck.out / f"{holder_id}.prepare.json"))
    assert results["spark"]["clusters"] == results["duckdb"]["clusters"]
    assert results["spark"]["rows"] == results["duckdb"]["rows"]
    assert len(results["duckdb"]["clusters"]) > 700
