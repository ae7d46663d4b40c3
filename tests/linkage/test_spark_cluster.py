"""On a real Spark standalone cluster (a master and two workers on loopback), the CLI's
pipeline gives what DuckDB gives: the same clusters of records and the same combined rows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import anonymize
import linkage

# Only the linkage commands: importing pseudolink.cli would load every subsystem.
from pseudolink.cli import combine, holder, link, project  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE

pytestmark = pytest.mark.spark
HOLDERS = ("ssis", "building")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Small registers with typos, so that duplicates, conflicts and near-misses occur."""
    out = tmp_path_factory.mktemp("cluster-source")
    linkage.generate_synthetic_data(out, 800, areas=anonymize.load_admin_areas(), seed=5,
                                    typo_rate=0.05)
    return out


def _spec(source: Path, mode: str, dest: Path) -> tuple[Path, str]:
    data = tomllib.loads((source / "project.toml").read_text(encoding="utf-8"))
    text = (source / "project.toml").read_text(encoding="utf-8")
    if mode == "fuzzy":
        text = text.replace('mode = "exact"', 'mode = "fuzzy"')
        # Fuzzy mode refuses the exact recipes it would ignore.
        text = text[:text.index("[[recipes]]")] if "[[recipes]]" in text else text
    dest.write_text(text, encoding="utf-8")
    return dest, data["project"]["id"]


class Deployment:
    """One workspace holding every party, driven through the CLI as an operator types it."""

    def __init__(self, root: Path, party_keys: Path, source: Path, mode: str) -> None:
        self.root, self.source = root, source
        self.work = root / "ws"
        shutil.copytree(party_keys, self.work / "keys")
        spec, self.project_id = _spec(source, mode, root / "project.toml")
        self.out = root / "out"
        self.runner = CliRunner()
        self.run("project", "create", "--spec", str(spec))
        for holder_id in HOLDERS:
            self.run("project", "accept", "--project", self.project_id, "--holder",
                     holder_id, "--yes")

    def run(self, *args: str) -> str:
        result = self.runner.invoke(app, [*args, "--workdir", str(self.work)])
        assert result.exit_code == 0, result.output
        return result.output

    def prepare(self, options: list[str]) -> None:
        for holder_id in HOLDERS:
            self.run("holder", "prepare", "--project", self.project_id, "--holder", holder_id,
                     "--input", str(self.source / f"{holder_id}.parquet"),
                     "--out", str(self.out), *options)

    def link_and_combine(self, name: str, options: list[str],
                         guard: Callable[[], AbstractContextManager] = nullcontext) -> dict:
        """Link (inside ``guard``) and combine into ``name``; the clusters (as holders'
        record ids) and the combined rows without their random link ids."""
        out = self.root / name
        with guard():
            self.run("link", "--project", self.project_id, "--out", str(out), *options,
                     "--keys", *(str(self.out / f"{h}.keys.age") for h in HOLDERS))
        combined = out / "combined.parquet"
        self.run("combine", "--project", self.project_id, "--linkmap",
                 str(out / "linkmap.age"), "--out", str(combined), *options,
                 "--payloads", *(str(self.out / f"{h}.payload.age") for h in HOLDERS))
        keys = self.work / "keys"
        manifest = linkage.ProjectManifest.load(self.work / "data" / self.project_id)
        linkmap = linkage.read_envelope(out / "linkmap.age", keys, "agency", PASSPHRASE,
                                        manifest)
        records = {}
        for holder_id in HOLDERS:
            crosswalk = pq.read_table(linkage.crosswalk_path(keys, self.project_id, holder_id))
            records[holder_id] = dict(zip(crosswalk.column("serial").to_pylist(),
                                          crosswalk.column("record_id").to_pylist(),
                                          strict=True))
        clusters: dict[str, set] = {}
        for row in linkmap.to_pylist():
            clusters.setdefault(row["link_id"], set()).add(
                (row["holder"], records[row["holder"]][row["serial"]]))
        table = pq.read_table(combined)
        rows = sorted(tuple(map(str, r.values())) for r in table.drop(["link_id"]).to_pylist())
        return {"clusters": {frozenset(c) for c in clusters.values()}, "rows": rows,
                "columns": table.column_names}


@pytest.fixture
def on_cluster(spark_engine, monkeypatch) -> list[str]:
    """CLI options that put a stage on the test cluster, its session already started."""
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PSEUDOLINK_SPARK_MASTER", raising=False)
    spark_engine.spark  # noqa: B018 - started with the test session's result limit
    return ["--engine", "spark", "--spark-master", spark_engine.master]


def test_exact_pipeline_on_a_standalone_cluster_matches_duckdb(source, party_keys,
                                                                 on_cluster, tmp_path):
    results = {}
    for name, options in (("duckdb", []), ("spark", on_cluster)):
        deployment = Deployment(tmp_path / name, party_keys, source, "exact")
        deployment.prepare(options)
        results[name] = deployment.link_and_combine("linked", options)
    duck, spark = results["duckdb"], results["spark"]
    assert len(duck["clusters"]) > 300
    assert spark["clusters"] == duck["clusters"]
    assert spark["columns"] == duck["columns"]
    assert spark["rows"] == duck["rows"]


@pytest.fixture(scope="module")
def large_source(tmp_path_factory) -> Path:
    """Registers whose records, keys and link map are each over a megabyte."""
    out = tmp_path_factory.mktemp("cluster-large")
    linkage.generate_synthetic_data(out, 15_000, areas=anonymize.load_admin_areas(), seed=11,
                                    typo_rate=0.05)
    return out


def _report(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("outputs", None)
    return data


def test_spark_prepare_and_link_bring_no_record_back_to_the_driver(
        large_source, party_keys, on_cluster, spark_engine, tmp_path):
    # The test session's Spark lets tasks return at most DRIVER_RESULT_LIMIT (1 MiB): at
    # this size, pulling a holder's records back to the driver is refused...
    with pytest.raises(Exception, match="maxResultSize"):
        spark_engine.spark.read.parquet(str(large_source / "ssis.parquet")).toArrow()
    # ...while prepare (read, normalise, hash, write) and link (match, draw link ids,
    # write the link map) run in the executors and give what DuckDB gives.
    results, roots = {}, {}
    for name, options in (("duckdb", []), ("spark", on_cluster)):
        roots[name] = tmp_path / name
        deployment = Deployment(roots[name], party_keys, large_source, "exact")
        deployment.prepare(options)
        results[name] = deployment.link_and_combine("linked", options)
    spark_out = roots["spark"] / "out"
    assert (spark_out / "ssis.keys.age").stat().st_size > 1 << 20
    assert (roots["spark"] / "linked" / "linkmap.age").stat().st_size > 1 << 20
    for holder_id in HOLDERS:
        assert (_report(spark_out / f"{holder_id}.prepare.json")
                == _report(roots["duckdb"] / "out" / f"{holder_id}.prepare.json"))
    assert (_report(roots["spark"] / "linked" / "link-report.json")
            == _report(roots["duckdb"] / "linked" / "link-report.json"))
    duck, spark = results["duckdb"], results["spark"]
    assert len(duck["clusters"]) > 7000
    assert spark["clusters"] == duck["clusters"]
    assert spark["rows"] == duck["rows"]


def test_fuzzy_pipeline_on_a_standalone_cluster_matches_duckdb(source, party_keys,
                                                                 on_cluster, tmp_path):
    # Fuzzy encodings differ with each project key, so both engines run in one deployment
    # (one key): Spark's executors encode and link, then DuckDB prepares and links the same
    # files again (each prepare rewrites the crosswalk, so each run is read before the next).
    deployment = Deployment(tmp_path, party_keys, source, "fuzzy")
    deployment.prepare(on_cluster)
    spark = deployment.link_and_combine("spark", on_cluster)
    deployment.prepare([])
    duck = deployment.link_and_combine("duckdb", [])
    assert len(duck["clusters"]) > 300
    assert spark["clusters"] == duck["clusters"]
    assert spark["rows"] == duck["rows"]


@contextmanager
def _no_table_read_here() -> Iterator[None]:
    """Refuse any whole-table Parquet read in this process (the driver) while it lasts."""
    def refuse(*args, **kwargs):
        raise AssertionError("the driver read a table of records")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pq, "read_table", refuse)
        patch.setattr(pq.ParquetFile, "read", refuse)
        patch.setattr(pq.ParquetFile, "iter_batches", refuse)
        yield


def _fuzzy_report(path: Path) -> dict:
    """The link report less what differs by engine and run: timings and the engine's name."""
    data = _report(path)
    for volatile in ("seconds", "engine"):
        data["fuzzy"].pop(volatile)
    return data


@pytest.fixture(scope="module")
def fuzzy_source(tmp_path_factory) -> Path:
    """Registers whose fuzzy keys files, candidates' levels and link map are each over a
    megabyte."""
    out = tmp_path_factory.mktemp("cluster-fuzzy")
    linkage.generate_synthetic_data(out, 30_000, areas=anonymize.load_admin_areas(), seed=11,
                                    typo_rate=0.05)
    return out


def test_fuzzy_link_on_a_standalone_cluster_brings_no_record_back_to_the_driver(
        fuzzy_source, party_keys, on_cluster, spark_engine, tmp_path):
    # Keys files, candidate pairs and link map are each over the driver's 1 MiB result cap;
    # the executors read, normalise, encode and write the holders' files, and the driver
    # opens the envelopes to files the executors read, getting back only counts and the
    # distinct comparison patterns (which it fits the model on).
    deployment = Deployment(tmp_path, party_keys, fuzzy_source, "fuzzy")
    with _no_table_read_here():
        deployment.prepare(on_cluster)
    assert (deployment.out / "ssis.keys.age").stat().st_size > 1 << 20
    # The cap bites at this size: a keys table pulled back to the driver is refused.
    plain = tmp_path / "ssis.keys.parquet"
    pq.write_table(linkage.read_envelope(deployment.out / "ssis.keys.age",
                                         deployment.work / "keys", "keymanager", PASSPHRASE),
                   plain)
    with pytest.raises(Exception, match="maxResultSize"):
        spark_engine.spark.read.parquet(str(plain)).toArrow()
    duck = deployment.link_and_combine("duckdb", [])
    spark = deployment.link_and_combine("spark", on_cluster, guard=_no_table_read_here)
    assert (tmp_path / "spark" / "linkmap.age").stat().st_size > 1 << 20
    assert len(duck["clusters"]) > 10_000
    assert spark["clusters"] == duck["clusters"]
    assert spark["rows"] == duck["rows"]
    assert (_fuzzy_report(tmp_path / "spark" / "link-report.json")
            == _fuzzy_report(tmp_path / "duckdb" / "link-report.json"))


def _combine_inputs(root: Path, people: int) -> tuple[Path, dict[str, tuple[Path, list[str]]]]:
    """A link map and two payloads whose combined rows are megabytes: more than the test
    session lets tasks return to the driver."""
    rng = np.random.default_rng(7)

    def hexes(n: int) -> pa.Array:
        return pa.array([rng.bytes(16).hex() for _ in range(n)])

    link_ids = hexes(people)
    serials = {h: hexes(people) for h in HOLDERS}
    linkmap = root / "linkmap.parquet"
    pq.write_table(pa.table({
        "link_id": pa.concat_arrays([link_ids, link_ids]),
        "holder": pa.array([HOLDERS[0]] * people + [HOLDERS[1]] * people),
        "serial": pa.concat_arrays([serials[h] for h in HOLDERS])}), linkmap)
    payloads = {}
    for holder_id in HOLDERS:
        path = root / f"{holder_id}.parquet"
        pq.write_table(pa.table({"serial": serials[holder_id], "note": hexes(people),
                                 "year": pa.array(rng.integers(1950, 2020, people))}), path)
        payloads[holder_id] = (path, ["note", "year"])
    return linkmap, payloads


def test_spark_combine_brings_no_record_back_to_the_driver(spark_engine, tmp_path):
    # The test session's Spark lets tasks return at most DRIVER_RESULT_LIMIT (1 MiB).
    from linkage.engines.duckdb import DuckDBEngine

    linkmap, payloads = _combine_inputs(tmp_path, 40_000)
    tables = {h: pq.read_table(p) for h, (p, _) in payloads.items()}
    # The cap bites: pulling the combined rows back to the driver is refused...
    with pytest.raises(Exception, match="maxResultSize"):
        spark_engine.combine(pq.read_table(linkmap), tables)
    # ...while the executors join and write them, and the driver gets counts only.
    out = tmp_path / "combined.parquet"
    rows, columns = spark_engine.combine_files(linkmap, payloads, out)
    expected = tmp_path / "duckdb.parquet"
    assert (rows, columns) == DuckDBEngine().combine_files(linkmap, payloads, expected)
    assert rows == 40_000
    assert pq.read_table(out).to_pylist() == pq.read_table(expected).to_pylist()


def test_spark_combine_refuses_a_payload_lacking_a_linked_serial(spark_engine, tmp_path):
    linkmap, payloads = _combine_inputs(tmp_path, 200)
    path = payloads["building"][0]
    pq.write_table(pq.read_table(path).slice(3), path)
    out = tmp_path / "combined.parquet"
    with pytest.raises(linkage.LinkageError, match="3 serials of holder 'building'"):
        spark_engine.combine_files(linkmap, payloads, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".combined.parquet*"))


def test_spark_combine_writes_link_id_order_whatever_the_ids_look_like(spark_engine,
                                                                       tmp_path):
    # The output parts take fixed ranges of hex link ids; ids of another form (upper case,
    # a prefix, shorter, longer) still land in order, and a holder the payloads lack a
    # row for leaves its columns null, as DuckDB leaves them.
    from linkage.engines.duckdb import DuckDBEngine

    linkmap, payloads = _combine_inputs(tmp_path, 300)
    table = pq.read_table(linkmap)
    odd = [f"{prefix}{i:03d}" for i, prefix in
           zip(range(300), ["Z", "ff", "0", "g-", "A", "~", "", "9f" * 20] * 40, strict=False)]
    table = table.set_column(0, "link_id", pa.array(odd + odd))
    pq.write_table(table.slice(0, 300 + 250), linkmap)  # 50 link ids of one holder only
    out = tmp_path / "combined.parquet"
    rows, columns = spark_engine.combine_files(linkmap, payloads, out)
    expected = tmp_path / "duckdb.parquet"
    assert (rows, columns) == DuckDBEngine().combine_files(linkmap, payloads, expected)
    assert len(list(out.glob("part-*.parquet"))) > 1
    assert pq.read_table(out).to_pylist() == pq.read_table(expected).to_pylist()


def test_combined_parts_keep_the_attempt_spark_took(tmp_path):
    # A retried task leaves its failed attempt's file beside the one that finished: only
    # the finished attempt's file is published, under the part's name.
    from linkage.engines.spark_parts import part_file, publish_parts

    for part, attempt in ((0, 0), (1, 0), (1, 1), (2, 3)):
        (tmp_path / part_file(part, attempt)).write_text(f"{part}/{attempt}")
    schema = pa.schema([("link_id", pa.string())])
    publish_parts(tmp_path, [(0, 0), (1, 1), (2, 3)], schema)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "part-00000.parquet": "0/0", "part-00001.parquet": "1/1", "part-00002.parquet": "2/3"}
    # No task ran (an empty frame has no partitions): one empty part of the schema.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert publish_parts(empty, [], schema) == [empty / "part-00000.parquet"]
    assert pq.read_table(empty).schema == schema and pq.read_table(empty).num_rows == 0


def _repeat_a_link_id(linkmap, payloads):
    # The link map names a second serial of the first holder under one link id.
    table = pq.read_table(linkmap)
    pq.write_table(pa.concat_tables([table, table.slice(people_of(table) - 5, 1).set_column(
        0, "link_id", table.slice(0, 1).column("link_id"))]), linkmap)


def people_of(linkmap: pa.Table) -> int:
    return linkmap.num_rows // 2


def _repeat_a_serial(linkmap, payloads):
    path = payloads["building"][0]
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table.slice(7, 1), table.slice(7, 1)]), path)


def _lack_and_repeat(linkmap, payloads):
    _repeat_a_link_id(linkmap, payloads)
    _repeat_a_serial(linkmap, payloads)
    path = payloads[HOLDERS[0]][0]
    pq.write_table(pq.read_table(path).slice(2), path)


@pytest.mark.parametrize("spoil", [_repeat_a_link_id, _repeat_a_serial, _lack_and_repeat])
def test_spark_combine_counts_a_mismatch_as_duckdb_does(spark_engine, tmp_path, spoil):
    # A link id named twice for one holder, a payload repeating a linked serial, or both
    # with serials missing: Spark's SerialMismatch carries DuckDB's numbers.
    from linkage.engines.duckdb import DuckDBEngine
    from linkage.errors import SerialMismatch

    linkmap, payloads = _combine_inputs(tmp_path, 200)
    spoil(linkmap, payloads)
    with pytest.raises(SerialMismatch) as duck:
        DuckDBEngine().combine_files(linkmap, payloads, tmp_path / "duckdb.parquet")
    out = tmp_path / "combined.parquet"
    with pytest.raises(SerialMismatch) as spark:
        spark_engine.combine_files(linkmap, payloads, out)
    assert (spark.value.missing, spark.value.repeated) == (duck.value.missing,
                                                           duck.value.repeated)
    assert duck.value.repeated or any(duck.value.missing.values())
    assert not out.exists()
    assert not list(tmp_path.glob(".combined.parquet*"))


def test_spark_prepare_reads_csv_as_the_one_machine_reader_does(source, spark_engine,
                                                                 tmp_path):
    from linkage.engines.duckdb import DuckDBEngine
    from linkage.prepare import ExactKeys, PrepareJob

    spec = linkage.ProjectSpec.load(source / "project.toml")
    good = tmp_path / "ssis.csv"
    pacsv.write_csv(pq.read_table(source / "ssis.parquet"), good)

    def job(path: Path, out: Path) -> PrepareJob:
        out.mkdir()
        return PrepareJob(input_path=path, encoding="utf-8", holder=spec.holder("ssis"),
                          strategy=ExactKeys.for_spec(spec), project_key=bytes(range(32)),
                          keys_out=out / "keys.parquet", payload_out=out / "payload.parquet",
                          crosswalk_out=out / "crosswalk.parquet")

    from tests.linkage.test_spark_parallel_write import _settings

    # Small splits: Spark's reader hands the CSV to several tasks, whose crosswalk rows are
    # numbered after the splits before theirs.
    small = {"spark.sql.files.maxPartitionBytes": "16k"}
    with _settings(spark_engine.spark, **small):
        assert spark_engine.spark.read.csv(str(good)).rdd.getNumPartitions() >= 3
    outputs = {}
    for name, engine in (("duckdb", DuckDBEngine()), ("spark", spark_engine)):
        with _settings(spark_engine.spark, **(small if name == "spark" else {})):
            totals = engine.prepare_file(job(good, tmp_path / name)).to_dict()
        # A digest an engine reports is the written file's own: sealing trusts it and
        # skips a second read (DuckDB hashes as it writes; sealing hashes what is missing).
        digests = totals.pop("sha256")
        for half, digest in digests.items():
            data = (tmp_path / name / f"{half}.parquet").read_bytes()
            assert digest == hashlib.sha256(data).hexdigest(), (name, half)
        if name == "duckdb":
            assert set(digests) == {"keys", "payload"}
        # Serials are random; everything else is the same, row for row.
        outputs[name] = [totals] + [
            pq.read_table(tmp_path / name / f"{half}.parquet").drop(["serial"]).to_pylist()
            for half in ("keys", "payload", "crosswalk")]
    assert outputs["spark"] == outputs["duckdb"]
    assert outputs["spark"][0]["records"] == 800

    # A row with more fields than the header is refused, as the one-machine reader does.
    lines = good.read_text(encoding="utf-8").splitlines()
    lines[10] += ',"extra"'
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(linkage.InputError, match="does not fit the header"):
        spark_engine.prepare_file(job(bad, tmp_path / "bad"))
