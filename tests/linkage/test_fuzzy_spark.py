"""Spark runs fuzzy mode's comparison step and scores exactly as the numpy/DuckDB path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from linkage.fuzzy import params_for
from linkage.fuzzy.link import score_candidates
from linkage.fuzzy.prepare import encode_identifiers
from tests.linkage.conftest import PASSPHRASE, fuzzy_project, prepared_by_row

pytestmark = pytest.mark.spark
KEY = bytes(range(32))


def _keys(names, dobs, phones):
    spec = linkage.ProjectSpec.from_dict({
        "project": {"id": "p", "purpose": "statistics", "mode": "fuzzy"},
        "holders": [{"id": h, "identifiers": {"n": "name", "d": "dob", "p": "phone"}}
                    for h in ("a", "b")]})
    params = params_for(spec)
    values = pa.table({"name": names, "dob": dobs, "phone": phones})
    return params, encode_identifiers(values, KEY, params)


def test_spark_comparison_gives_the_same_levels_and_links_as_duckdb(spark_engine):
    rng = np.random.default_rng(3)
    given = ["민준", "서연", "지훈", "하은", "도윤", "서준", "지우", "예린"]
    people = [(f"{s}{g}", f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}",
               f"010{rng.integers(10_000_000, 99_999_999)}")
              for s in "김이박최" for g in given]
    typo = [(n[:-1] + "준" if i % 5 == 0 else n, d, p if i % 3 else None)
            for i, (n, d, p) in enumerate(people)]
    params, left = _keys(*map(list, zip(*people, strict=True)))
    _, right = _keys(*map(list, zip(*typo, strict=True)))
    duck = score_candidates(left, right, params)
    on_spark = score_candidates(left, right, params, engine=spark_engine)
    assert len(duck.candidates) >= len(people)
    assert np.array_equal(duck.weight, on_spark.weight)
    assert np.array_equal(duck.kept, on_spark.kept)
    assert on_spark.details["engine"] == "spark"
    truth = {(i, i) for i in range(len(people))}
    linked = set(zip(duck.candidates.left[duck.kept].tolist(),
                     duck.candidates.right[duck.kept].tolist(), strict=True))
    assert len(linked & truth) >= 0.9 * len(people)
    cands = spark_engine.candidate_pairs(left, right, params.blocking,
                                         params.max_block_pairs)
    assert np.array_equal(cands.left, duck.candidates.left)


@pytest.mark.parametrize("seed", [0, 1])
def test_spark_resolution_in_rounds_is_the_one_machine_greedy_on_ties(spark_engine, seed):
    from linkage.engines.spark_fuzzy import resolve_best_per_right, resolve_greedy
    from linkage.fuzzy.resolve import best_per_right, greedy_one_to_one

    rng = np.random.default_rng(seed)
    # Dense conflicts and few distinct weights: most choices are decided by the tie rule
    # (left row, then right row), and chains take several rounds.
    pairs = np.unique(rng.integers(0, 60, (600, 2)), axis=0)
    left, right = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
    weight = rng.integers(0, 4, len(pairs)).astype(np.float64)
    frame = spark_engine.spark.createDataFrame(pa.table({
        "l": left, "r": right, "w": weight, "k": np.arange(len(pairs))}))

    def kept(resolved) -> list[int]:
        return sorted(row["k"] for row in resolved.select("k").collect())

    greedy = greedy_one_to_one(left, right, weight)
    assert len(greedy) > 30
    assert kept(resolve_greedy(frame)) == greedy.tolist()
    assert kept(resolve_best_per_right(frame)) == best_per_right(left, right, weight).tolist()


def test_spark_fuzzy_link_files_links_what_duckdb_links(spark_engine, tmp_path):
    from linkage.engines.duckdb import DuckDBEngine

    rng = np.random.default_rng(5)
    given = ["민준", "서연", "지훈", "하은", "도윤", "서준", "지우", "예린", "시우", "수아"]
    people = [(f"{s}{g}", f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}",
               f"010{rng.integers(10_000_000, 99_999_999)}")
              for s in "김이박최정강" for g in given]
    typo = [(n[:-1] + "준" if i % 5 == 0 else n, d, p if i % 3 else None)
            for i, (n, d, p) in enumerate(people)]
    params, left = _keys(*map(list, zip(*people, strict=True)))
    _, right = _keys(*map(list, zip(*typo, strict=True)))
    files = {}
    for holder, table, n in (("a", left, len(people)), ("b", right, len(typo))):
        files[holder] = tmp_path / f"{holder}.parquet"
        serials = pa.array([f"{holder}{i:04d}" for i in range(n)])
        # Several row groups: the executors read the file in parts, row order kept.
        pq.write_table(table.append_column("serial", serials), files[holder],
                       row_group_size=7)
    outcomes, linked = {}, {}
    for name, engine in (("duckdb", DuckDBEngine()), ("spark", spark_engine)):
        out = tmp_path / f"{name}.linkmap.parquet"
        outcomes[name] = engine.fuzzy_link_files(files, params, out)
        linkmap = pq.read_table(out).to_pylist()
        clusters: dict[str, set] = {}
        for row in linkmap:
            clusters.setdefault(row["link_id"], set()).add(row["serial"])
        linked[name] = {frozenset(c) for c in clusters.values()}
        for volatile in ("seconds", "engine"):
            outcomes[name].details.pop(volatile)
    assert len(linked["duckdb"]) >= 0.9 * len(people)
    assert linked["spark"] == linked["duckdb"]
    assert outcomes["spark"] == outcomes["duckdb"]


def test_fuzzy_prepare_on_spark_writes_what_duckdb_writes(spark_engine, party_keys, tmp_path,
                                                          monkeypatch):
    from linkage.engines import spark as spark_module
    from tests.linkage.test_spark_parallel_write import _settings

    source = tmp_path / "source"
    linkage.generate_synthetic_data(source, 300, areas=anonymize.load_admin_areas(), seed=17,
                                    typo_rate=0.1)
    for holder in ("ssis", "building"):
        # Small row groups and splits: several tasks encode, and the parts are joined.
        path = source / f"{holder}.parquet"
        pq.write_table(pq.read_table(path), path, row_group_size=40)
    merged: list[int] = []
    real_merge = spark_module._merge_parts

    def counting_merge(spark, files, target):
        if ".keys.parquet" in files[0].parent.name:
            merged.append(len(files))
        real_merge(spark, files, target)

    monkeypatch.setattr(spark_module, "_merge_parts", counting_merge)
    manifest, keys = fuzzy_project(source, party_keys, tmp_path)
    results = {}
    with _settings(spark_engine.spark, **{"spark.sql.files.maxPartitionBytes": "8k"}):
        assert spark_engine.spark.read.parquet(
            str(source / "ssis.parquet")).rdd.getNumPartitions() >= 3
        for name, engine in (("duckdb", "duckdb"), ("spark", spark_engine)):
            for holder in ("ssis", "building"):
                report = linkage.prepare(manifest, holder, source / f"{holder}.parquet",
                                         tmp_path / name, keys, PASSPHRASE, engine=engine)
                results[name, holder] = prepared_by_row(report, manifest, keys)
    assert len(merged) == 2 and min(merged) >= 2, merged
    for holder in ("ssis", "building"):
        duck, spark = results["duckdb", holder], results["spark", holder]
        assert duck["report"]["records"] > 150
        # The executors encode what DuckDB's path encodes, byte for byte and as the same
        # column types (filters of fixed width), row for row; only the serials differ.
        assert spark["keys"].schema == duck["keys"].schema
        assert spark["keys"].equals(duck["keys"])
        assert spark["keys header"] == duck["keys header"]
        assert spark["keys header"]["mode"] == "fuzzy"
        assert spark["payload"].equals(duck["payload"])
        assert spark["crosswalk"].equals(duck["crosswalk"])
        assert spark["report"] == duck["report"]
