"""The embedded engine writes the link map and its summary inside DuckDB: the same clusters
and counts as its members table, one fresh id per cluster, the file's digest as written."""

from __future__ import annotations

import hashlib
from itertools import groupby

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkage.engines.base import Engine, summarise
from linkage.engines.duckdb import DuckDBEngine
from linkage.engines.link_ids import LINKMAP_SCHEMA
from tests.linkage.conftest import crowded_keys

RECIPES = ["r0", "r1", "r2"]


def _files(tmp_path, tables: dict[str, pa.Table]) -> dict:
    paths = {}
    for holder, table in tables.items():
        paths[holder] = tmp_path / f"{holder}.parquet"
        pq.write_table(table, paths[holder])
    return paths


def _groups(rows, key) -> set[frozenset]:
    found: dict = {}
    for row in rows:
        found.setdefault(row[key], set()).add((row["holder"], row["serial"]))
    return {frozenset(g) for g in found.values()}


@pytest.mark.parametrize("seed", [1, 2])
def test_link_map_holds_the_matchers_clusters_and_its_summary_counts_them(tmp_path, seed):
    paths = _files(tmp_path, crowded_keys(seed))
    engine = DuckDBEngine()
    members = engine.match_files(paths, RECIPES).members
    result = engine.link_files(paths, RECIPES, tmp_path / "linkmap.parquet")

    # The counts taken as the clusters formed are those of the whole members table,
    # conflicts and duplicates included (the crowded keys make every kind).
    assert result.summary == summarise(members, RECIPES)
    assert result.summary.clusters > 50 and sum(result.summary.formed.values()) == \
        result.summary.clusters
    assert result.members.num_rows == 0  # the members never came to Python

    linkmap = pq.read_table(tmp_path / "linkmap.parquet")
    assert linkmap.schema == LINKMAP_SCHEMA
    rows = linkmap.to_pylist()
    assert _groups(rows, "link_id") == _groups(members.to_pylist(), "cluster")
    ids = [row["link_id"] for row in rows]
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)
    # Ordered by cluster, then holder: a link's rows are adjacent, its holders sorted.
    runs = [[row["holder"] for row in run] for _, run in groupby(rows, lambda r: r["link_id"])]
    assert len(runs) == result.summary.clusters
    assert all(holders == sorted(holders) for holders in runs)
    # Sealing trusts this digest instead of reading the file again.
    assert result.linkmap_sha256 == hashlib.sha256(
        (tmp_path / "linkmap.parquet").read_bytes()).hexdigest()


def test_each_link_map_draws_fresh_ids(tmp_path):
    paths = _files(tmp_path, crowded_keys(1))
    engine = DuckDBEngine()
    maps = []
    for run in range(2):
        engine.link_files(paths, RECIPES, tmp_path / f"linkmap-{run}.parquet")
        maps.append(pq.read_table(tmp_path / f"linkmap-{run}.parquet").to_pylist())
    assert _groups(maps[0], "link_id") == _groups(maps[1], "link_id")
    assert not {r["link_id"] for r in maps[0]} & {r["link_id"] for r in maps[1]}


def test_a_precheck_counts_without_writing_a_link_map(tmp_path):
    paths = _files(tmp_path, crowded_keys(2))
    result = DuckDBEngine().link_files(paths, RECIPES, None)
    assert result.summary.clusters > 50 and result.linkmap_sha256 is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet",
                                                          "c.parquet"]


def test_keys_that_share_nothing_give_an_empty_link_map(tmp_path):
    # Each holder's keys start with a byte of its own: no key is shared.
    disjoint = {}
    for k, (holder, table) in enumerate(crowded_keys(1).items()):
        for recipe in RECIPES:
            column = [None if v is None else bytes([k]) + v[1:]
                      for v in table.column(recipe).to_pylist()]
            table = table.set_column(table.schema.get_field_index(recipe), recipe,
                                     pa.array(column, pa.binary()))
        disjoint[holder] = table
    paths = _files(tmp_path, disjoint)
    result = DuckDBEngine().link_files(paths, RECIPES, tmp_path / "linkmap.parquet")
    assert result.summary.clusters == 0 and result.summary.linked == {}
    linkmap = pq.read_table(tmp_path / "linkmap.parquet")
    assert linkmap.num_rows == 0 and linkmap.schema == LINKMAP_SCHEMA


def test_the_in_process_default_writes_the_link_map_as_duckdb_does(tmp_path):
    """``Engine.link_files``'s default (members in Python) names clusters and hashes the
    file as the DuckDB override does, so an engine that only matches gets the same map."""
    paths = _files(tmp_path, crowded_keys(2))
    duck = DuckDBEngine().link_files(paths, RECIPES, tmp_path / "duck.parquet")
    default = Engine.link_files(DuckDBEngine(), paths, RECIPES, tmp_path / "default.parquet")
    assert default.summary == duck.summary and default.members.num_rows > 100
    maps = {name: pq.read_table(tmp_path / f"{name}.parquet") for name in ("duck", "default")}
    assert maps["default"].schema == LINKMAP_SCHEMA
    assert _groups(maps["default"].to_pylist(), "link_id") == _groups(
        maps["duck"].to_pylist(), "link_id")
    assert maps["default"].column("holder").equals(maps["duck"].column("holder"))
    assert default.linkmap_sha256 == hashlib.sha256(
        (tmp_path / "default.parquet").read_bytes()).hexdigest()
