"""DuckDB and Spark give the same keys, clusters, link maps and combined data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from linkage.engines.duckdb import DuckDBEngine
from tests.linkage.conftest import PASSPHRASE, accept_all, crowded_keys

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def synth_world(tmp_path_factory, party_keys):
    """Prepared synthetic holders with typos, so duplicates and conflicts occur."""
    root = tmp_path_factory.mktemp("engines")
    source = root / "source"
    linkage.generate_synthetic_data(source, 1500, areas=anonymize.load_admin_areas(), seed=3,
                                    typo_rate=0.05)
    keys = root / "keys"
    shutil.copytree(party_keys, keys)
    spec = linkage.ProjectSpec.load(source / "project.toml")
    manifest = accept_all(linkage.create_project(spec, keys, root / "project"), keys)
    out = root / "exchange"
    for holder in ("ssis", "building"):
        linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys, PASSPHRASE)
    tables = {h: linkage.read_envelope(out / f"{h}.keys.age", keys, "keymanager", PASSPHRASE)
              for h in ("ssis", "building")}
    return root, keys, manifest, out, tables


def test_linkage_keys_are_byte_identical(spark_engine):
    values = pa.table({
        "name": ["홍길동", None, "김 철수", "ＡＢＣ", "", "이영희"],
        "dob": ["1980-01-01", "1975-05-05", None, "2000-12-31", "1999-01-01", "1990-02-02"],
        "sex": ["1", "2", "1", None, "2", "2"],
    })
    recipes = [linkage.Recipe(("name", "dob", "sex")), linkage.Recipe(("dob",))]
    key = os.urandom(32)
    duck = DuckDBEngine().linkage_keys(values, key, recipes)
    spark = spark_engine.linkage_keys(values, key, recipes)
    assert spark.equals(duck)
    expected = linkage.linkage_key(key, recipes[0].tag, ["홍길동", "1980-01-01", "1"])
    assert spark.column("name+dob+sex")[0].as_py() == expected


def test_match_gives_identical_clusters_and_counts(synth_world, spark_engine):
    _, _, manifest, _, tables = synth_world
    recipes = [r.name for r in manifest.spec.recipes]
    duck = DuckDBEngine().match(tables, recipes)
    spark = spark_engine.match(tables, recipes)
    assert duck.members.num_rows > 1000
    assert spark.members.equals(duck.members)
    assert spark.shared == duck.shared
    assert spark.duplicates == duck.duplicates
    assert spark.conflicts == duck.conflicts


@pytest.mark.parametrize("seed", [1, 2])
def test_match_agrees_where_keys_collide_often(spark_engine, seed):
    tables = crowded_keys(seed)
    recipes = ["r0", "r1", "r2"]
    duck = DuckDBEngine().match(tables, recipes)
    spark = spark_engine.match(tables, recipes)
    assert duck.members.num_rows > 300
    for counts in ("many_to_one", "would_merge_clusters", "matches_a_duplicate"):
        assert sum(c[counts] for c in duck.conflicts.values()) > 0
    assert spark.members.equals(duck.members)
    assert spark.shared == duck.shared
    assert spark.duplicates == duck.duplicates
    assert spark.conflicts == duck.conflicts


def test_spark_link_map_ids_are_fresh_and_one_per_cluster_and_its_summary_is_duckdbs(
        spark_engine, tmp_path):
    """Spark draws its link ids in the executors (a keyed permutation of the cluster
    numbers) and counts the summary as it forms the clusters: the ids must still be 32 hex
    digits, one per cluster, never repeated in another link map, and the summary DuckDB's."""
    paths = {}
    for holder, table in crowded_keys(1).items():
        paths[holder] = tmp_path / f"{holder}.parquet"
        pq.write_table(table, paths[holder])
    recipes = ["r0", "r1", "r2"]
    duck = DuckDBEngine().link_files(paths, recipes, tmp_path / "duck.parquet")
    maps = []
    for run in range(2):
        result = spark_engine.link_files(paths, recipes, tmp_path / f"spark-{run}.parquet")
        assert result.summary == duck.summary
        maps.append(pq.read_table(tmp_path / f"spark-{run}.parquet"))
    ids = [set(m.column("link_id").to_pylist()) for m in maps]
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids[0])
    assert len(ids[0]) == duck.summary.clusters
    assert not ids[0] & ids[1]
    assert _clusters(maps[0]) == _clusters(maps[1]) == _clusters(
        pq.read_table(tmp_path / "duck.parquet"))


@pytest.mark.spark
def test_spark_links_keys_that_share_nothing_into_an_empty_link_map(spark_engine, tmp_path):
    """No key in common: both engines write a link map with no rows and the same columns
    (Spark runs no task for an empty frame, so its parts are none)."""
    paths = {}
    for holder, table in crowded_keys(5).items():
        paths[holder] = tmp_path / f"{holder}.parquet"
        # Each holder's keys changed in their first byte: no recipe agrees across holders.
        tagged = [pa.array([None if k is None else bytes([i]) + k[1:] for k in
                            table.column(r).to_pylist()], pa.binary())
                  for i, r in ((len(paths), r) for r in ("r0", "r1", "r2"))]
        pq.write_table(table.select(["serial"]).append_column("r0", tagged[0])
                       .append_column("r1", tagged[1]).append_column("r2", tagged[2]),
                       paths[holder])
    recipes = ["r0", "r1", "r2"]
    duck = DuckDBEngine().link_files(paths, recipes, tmp_path / "duck.parquet")
    spark = spark_engine.link_files(paths, recipes, tmp_path / "spark.parquet")
    assert spark.summary == duck.summary and duck.summary.clusters == 0
    written = pq.read_table(tmp_path / "spark.parquet")
    assert written.num_rows == 0
    assert written.schema.names == pq.read_table(tmp_path / "duck.parquet").schema.names


@pytest.mark.spark
def test_spark_link_id_key_reaches_no_file_and_no_log(spark_engine, spark_cluster, tmp_path,
                                                       monkeypatch, capfd):
    """The AES key that turns Spark's cluster numbers into link ids is a secret of one
    link map: with it, a reader of the link map could recover the cluster numbers (the
    order clusters formed). It travels to the executors inside the task, in memory; no
    file the run leaves (outputs, Spark's scratch and block files, the cluster's daemon and
    executor logs) and nothing printed may hold it, raw, as hex or as base64."""
    import base64
    import tempfile

    import linkage.engines.spark as spark_module

    drawn: list[bytes] = []
    original = spark_module._LinkMapRows.__init__

    def recording(self, ids, holders, folder):  # the driver's side only: tasks unpickle
        drawn.append(ids.key)
        original(self, ids, holders, folder)

    monkeypatch.setattr(spark_module._LinkMapRows, "__init__", recording)
    paths = {}
    for holder, table in crowded_keys(3).items():
        paths[holder] = tmp_path / f"{holder}.parquet"
        pq.write_table(table, paths[holder])
    spark_engine.link_files(paths, ["r0", "r1", "r2"], tmp_path / "linkmap.parquet")
    assert len(drawn) == 1 and len(drawn[0]) == 16
    key = drawn[0]
    forms = [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]
    roots = [tmp_path, spark_cluster.work_dir,
             *Path(tempfile.gettempdir()).glob("spark-*"),
             *Path(tempfile.gettempdir()).glob("blockmgr-*")]
    scanned = 0
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                try:
                    data = path.read_bytes()
                except OSError:
                    continue  # removed while the scan ran (another stage's scratch)
                scanned += 1
                assert not any(form in data for form in forms), path
    assert scanned > 10  # the link map, the executors' logs, Spark's scratch
    printed = capfd.readouterr()
    assert not any(form.decode("latin-1") in printed.out + printed.err for form in forms)


def _clusters(linkmap: pa.Table) -> set[frozenset]:
    groups: dict[str, set] = {}
    for row in linkmap.to_pylist():
        groups.setdefault(row["link_id"], set()).add((row["holder"], row["serial"]))
    return {frozenset(g) for g in groups.values()}


def _rows(combined: pa.Table) -> list[tuple]:
    return sorted(tuple(map(str, row.values()))
                  for row in combined.drop(["link_id"]).to_pylist())


def test_pipeline_on_both_engines_gives_same_link_map_and_combined_data(
        synth_world, spark_engine, monkeypatch):
    root, keys, manifest, out, _ = synth_world
    monkeypatch.setattr("linkage.engines._ENGINES",
                        {"duckdb": ("linkage.engines.duckdb", "DuckDBEngine"),
                         "spark": ("tests.linkage.test_engines", "_SharedSpark")})
    _SharedSpark.engine = spark_engine
    results = {}
    for engine in ("duckdb", "spark"):
        link_dir = root / f"link-{engine}"
        report = linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                              link_dir, keys, PASSPHRASE, engine=engine)
        combined = root / f"combined-{engine}.parquet"
        linkage.combine(manifest, link_dir / "linkmap.age",
                        [out / "ssis.payload.age", out / "building.payload.age"], combined,
                        keys, PASSPHRASE, engine=engine)
        linkmap = linkage.read_envelope(link_dir / "linkmap.age", keys, "agency", PASSPHRASE)
        report_dict = report.to_dict()
        report_dict.pop("outputs")
        results[engine] = (linkmap, pq.read_table(combined), report_dict)
    duck, spark = results["duckdb"], results["spark"]
    # Link ids are drawn at random where the link map is written (on Spark, in the
    # executors): the link maps and combined rows agree up to those ids.
    assert spark[0].num_rows == duck[0].num_rows
    assert _clusters(spark[0]) == _clusters(duck[0])
    assert spark[1].column_names == duck[1].column_names
    assert spark[1].schema.equals(duck[1].schema)
    assert _rows(spark[1]) == _rows(duck[1])
    assert spark[1].num_rows == duck[2]["links"] > 500
    assert spark[2] == duck[2]


def test_combine_is_identical_on_the_same_link_map(synth_world, spark_engine):
    _, keys, manifest, out, tables = synth_world
    recipes = [r.name for r in manifest.spec.recipes]
    members = DuckDBEngine().match(tables, recipes).members
    linkmap = pa.table({
        "link_id": pa.array([f"{c:032x}" for c in members.column("cluster").to_pylist()]),
        "holder": members.column("holder"), "serial": members.column("serial")})
    payloads = {
        h: linkage.read_envelope(out / f"{h}.payload.age", keys, "agency", PASSPHRASE)
        for h in ("ssis", "building")}
    assert spark_engine.combine(linkmap, payloads).equals(
        DuckDBEngine().combine(linkmap, payloads))


class _SharedSpark:
    """Lets ``get_engine('spark')`` hand out the test session's engine."""

    engine = None

    def __new__(cls):
        return cls.engine
