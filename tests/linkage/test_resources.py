"""Engines size themselves from the machine: a bigger machine never fails where a smaller passes."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from linkage.engines import resources
from linkage.engines.duckdb import file_connection
from linkage.engines.resources import (
    GIB,
    MIB,
    Machine,
    detect_machine,
    parse_size,
    stage_budget,
    threads,
)
from linkage.prepare import batches_in_flight
from tests.linkage.conftest import PASSPHRASE, fuzzy_project


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch):
    monkeypatch.delenv("PSEUDOLINK_THREADS", raising=False)
    monkeypatch.delenv("PSEUDOLINK_DUCKDB_MEMORY", raising=False)


def test_memory_limit_grows_with_the_thread_count():
    small = stage_budget("combine", Machine(cores=2, memory=24 * GIB))
    big = stage_budget("combine", Machine(cores=16, memory=128 * GIB))
    assert (small.threads, big.threads) == (2, 16)
    # The 16-core server crashed with the 2-core laptop's fixed 4 GB limit.
    assert big.memory >= 8 * GIB  # 3.7 GiB failed there, 8 GiB passed
    assert small.memory >= 4 * GIB  # the measured 2-core need at 10M people


def test_combine_takes_half_the_machine_as_its_input_grows():
    # At 50M people the 4 GiB that did at 10M ran out (the wide sort does not spill all of
    # it): combine may use half of what the machine has, never less than its floor.
    assert stage_budget("combine", Machine(cores=2, memory=24 * GIB)).memory == 12 * GIB
    assert stage_budget("combine", Machine(cores=2, memory=8 * GIB)).memory == 4 * GIB
    assert stage_budget("combine", Machine(cores=2, memory=6 * GIB)).memory == 4 * GIB
    # link spills its hash tables and keeps its measured floor.
    assert stage_budget("link", Machine(cores=2, memory=24 * GIB)).memory == 1536 * MIB


def test_link_keeps_its_measured_floor_on_a_small_machine():
    budget = stage_budget("link", Machine(cores=2, memory=24 * GIB))
    assert budget.memory == 1536 * MIB and budget.threads == 2


def test_a_machine_short_of_memory_gets_fewer_threads_not_a_crash():
    budget = stage_budget("combine", Machine(cores=64, memory=16 * GIB))
    assert budget.memory == 8 * GIB  # half the machine
    assert 2 < budget.threads < 64
    assert 4 * GIB + (budget.threads - 2) * 384 * MIB <= budget.memory


def test_operator_settings_win(monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_THREADS", "3")
    monkeypatch.setenv("PSEUDOLINK_DUCKDB_MEMORY", "900MB")
    budget = stage_budget("combine", Machine(cores=16, memory=128 * GIB))
    assert (budget.threads, budget.memory, budget.source) == (3, 900 * 1000**2,
                                                              "PSEUDOLINK_DUCKDB_MEMORY")


@pytest.mark.parametrize(("name", "value"), [("PSEUDOLINK_THREADS", "0"),
                                             ("PSEUDOLINK_THREADS", "many"),
                                             ("PSEUDOLINK_DUCKDB_MEMORY", "lots")])
def test_a_bad_setting_is_a_clear_error_naming_it(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(linkage.LinkageError, match=name):
        stage_budget("link", Machine(cores=2, memory=4 * GIB))


def test_cgroup_limits_bound_what_is_used(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    (tmp_path / "memory.max").write_text(str(3 * GIB) + "\n")
    machine = detect_machine(tmp_path)
    assert machine.cores == 1
    assert machine.memory == 3 * GIB


def test_cgroup_v1_without_limits_means_the_whole_machine(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    machine = detect_machine(tmp_path)
    assert machine.cores >= 1 and machine.memory > 256 * MIB


def test_connections_use_the_derived_threads_and_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("PSEUDOLINK_THREADS", "16")
    con = file_connection(tmp_path, "combine")
    try:
        assert con.execute("select current_setting('threads')").fetchone()[0] == 16
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert parse_size(limit.replace(" ", "")) >= 4 * 1000**3 - 64 * MIB
    assert threads() == 16


def test_pipeline_passes_with_more_threads_than_cores_at_default_memory(world, monkeypatch,
                                                                        tmp_path):
    monkeypatch.setenv("PSEUDOLINK_THREADS", "16")
    world.prepare_all()
    report = linkage.link(world.project_dir, world.keys_files(), tmp_path / "km-out",
                          world.keys, PASSPHRASE)
    assert report.links == 3
    out = tmp_path / "combined.parquet"
    combined = linkage.combine(world.project_dir, tmp_path / "km-out" / "linkmap.age",
                               world.payload_files(), out, world.keys, PASSPHRASE)
    assert combined.rows == 3 == pq.read_table(out).num_rows


def test_running_out_of_memory_says_what_to_set(world, monkeypatch, tmp_path):
    world.prepare_all()
    monkeypatch.setenv("PSEUDOLINK_DUCKDB_MEMORY", "1MB")
    with pytest.raises(linkage.LinkageError, match="PSEUDOLINK_DUCKDB_MEMORY=8GB"):
        linkage.link(world.project_dir, world.keys_files(), tmp_path / "km-out",
                     world.keys, PASSPHRASE)
    assert not (tmp_path / "km-out" / "linkmap.age").exists()


def test_fuzzy_blocking_is_sized_as_a_stage_and_says_what_to_set(party_keys, monkeypatch,
                                                                 tmp_path):
    # Blocking once opened DuckDB at its own defaults: the operator's limit and thread
    # count did not reach it, nor did the stage's spill folder.
    source = tmp_path / "source"
    linkage.generate_synthetic_data(source, 60, areas=anonymize.load_admin_areas(), seed=3)
    manifest, keys = fuzzy_project(source, party_keys, tmp_path)
    out = tmp_path / "exchange"
    for holder in ("ssis", "building"):
        linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys,
                        PASSPHRASE)
    keys_files = [out / f"{h}.keys.age" for h in ("ssis", "building")]
    monkeypatch.setenv("PSEUDOLINK_DUCKDB_MEMORY", "1MB")
    with pytest.raises(linkage.LinkageError, match="PSEUDOLINK_DUCKDB_MEMORY=8GB"):
        linkage.link(manifest, keys_files, tmp_path / "km-out", keys, PASSPHRASE)
    assert not (tmp_path / "km-out" / "linkmap.age").exists()
    monkeypatch.delenv("PSEUDOLINK_DUCKDB_MEMORY")
    monkeypatch.setenv("PSEUDOLINK_THREADS", "16")
    assert linkage.link(manifest, keys_files, tmp_path / "km-out", keys, PASSPHRASE).links


@pytest.mark.parametrize(("cores", "memory", "expected", "with_3_threads"), [
    (16, 128 * GIB, 16, 3),  # a server: a batch per core
    (16, 8 * GIB, 4, 3),  # short of memory: as many as half of it holds
    (16, 4 * GIB, 2, 2),
    (1, 24 * GIB, 2, 3),  # one core still overlaps writing with keying
    (2, 24 * GIB, 2, 3),
])
def test_prepare_keys_a_batch_per_thread_within_memory(monkeypatch, cores, memory, expected,
                                                       with_3_threads):
    monkeypatch.setattr(resources, "detect_machine",
                        lambda *_: Machine(cores=cores, memory=memory))
    assert batches_in_flight() == expected
    monkeypatch.setenv("PSEUDOLINK_THREADS", "3")
    assert batches_in_flight() == with_3_threads
