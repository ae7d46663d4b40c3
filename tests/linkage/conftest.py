"""A small two-holder project on hand-made CSVs, with each party's keys made once per run.

Party keys are scrypt-protected (seconds each), so they are generated once per session and
copied into each test's own workspace.
"""

from __future__ import annotations

import random
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkage
from linkage.keys.party import secret_path

PASSPHRASE = "test passphrase"
PARTIES = (("ssis", "holder"), ("building", "holder"), ("keymanager", "key_manager"),
           ("agency", "combiner"), ("intruder", "holder"))

SPEC = """\
[project]
id = "housing-test"
purpose = "scientific_research"
mode = "exact"

[[holders]]
id = "ssis"
identifiers = { name = "name", rrn = "rrn", phone = "phone", birth = "dob", gender = "sex" }
attributes = ["age", "sigungu", "benefit_type"]

[[holders]]
id = "building"
identifiers = { owner_name = "name", owner_rrn = "rrn" }
attributes = ["building_use", "built_year"]

[[recipes]]
fields = ["rrn"]
[[recipes]]
fields = ["name", "dob", "sex"]
"""


def rrn(front: str, back: str) -> str:
    """A resident registration number with a valid check digit (pre-2020 rule)."""
    digits = front + back
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    check = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11) % 10
    return f"{front}-{back}{check}"


HONG = rrn("800101", "123456")
KIM = rrn("750505", "112233")
LEE = rrn("900202", "234567")
PARK = rrn("851212", "154321")

SSIS_CSV = f"""\
name,rrn,phone,birth,gender,age,sigungu,benefit_type
홍길동,{HONG},010-1234-5678,,,45,종로구,livelihood
김철수,{KIM},,,,50,중구,disability
이영희,,010-2222-3333,1990.2.2,여,35,용산구,pension
박민수,{PARK},,,,40,성동구,livelihood
최없음,,,,,60,광진구,pension
"""

# 홍길동 links on RRN; 김철수's RRN is written without a hyphen; 이영희 has no RRN at ssis,
# so she links on name+dob+sex (dob and sex derived from her RRN at building);
# 박민수 and 최없음 have no counterpart.
BUILDING_CSV = f"""\
owner_name,owner_rrn,building_use,built_year
홍 길동,{HONG},apartment,1988
김철수,{KIM.replace("-", "")},house,1975
이영희,{LEE},house,1999
정다른,{rrn("700707", "111111")},shop,2005
"""

EXPECTED_PAIRS = {("1", "1"), ("2", "2"), ("3", "3")}  # ssis row, building row


@pytest.fixture(scope="session")
def party_keys(tmp_path_factory) -> Path:
    keys = tmp_path_factory.mktemp("party-keys")
    for party_id, role in PARTIES:
        linkage.create_party(keys, party_id, role, PASSPHRASE)
    return keys


@dataclass
class World:
    """One deployment in the demo shape: every party's keys in one workspace."""

    root: Path
    keys: Path
    project_dir: Path
    manifest: linkage.ProjectManifest
    exchange: Path
    #: The engine every stage of this world runs on (see the ``engine_world`` fixture).
    engine: str | linkage.Engine = "duckdb"

    def write(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.root / name
        path.write_bytes(text.encode(encoding))
        return path

    def prepare_all(self) -> dict[str, linkage.PrepareReport]:
        return {
            holder: linkage.prepare(self.manifest, holder, self.root / f"{holder}.csv",
                                    self.exchange, self.keys, PASSPHRASE, engine=self.engine)
            for holder in ("ssis", "building")
        }

    def crosswalk(self, holder: str) -> Path:
        """The holder's private crosswalk (in its workspace, never in the exchange)."""
        return linkage.crosswalk_path(self.keys, self.manifest.id, holder)

    def keys_files(self) -> list[Path]:
        return [self.exchange / f"{h}.keys.age" for h in ("ssis", "building")]

    def payload_files(self) -> list[Path]:
        return [self.exchange / f"{h}.payload.age" for h in ("ssis", "building")]


def party_workspace(party_keys: Path, dest: Path, *party_ids: str) -> Path:
    """A keys dir holding only these parties' private keys, and every party's public keys."""
    parties = dest / "parties"
    parties.mkdir(parents=True)
    for public in party_keys.glob("parties/*.public.json"):
        shutil.copy(public, parties)
    for party_id in party_ids:
        shutil.copy(secret_path(party_keys, party_id), parties)
    return dest


def accept_all(manifest: linkage.ProjectManifest, keys: Path) -> linkage.ProjectManifest:
    """Every holder accepts the project (all in one workspace, as in the demo)."""
    for holder_id in manifest.spec.holder_ids:
        linkage.accept_project(manifest, linkage.load_party_secret(keys, holder_id, PASSPHRASE),
                               keys)
    return manifest


def fuzzy_project(source: Path, party_keys: Path,
                  root: Path) -> tuple[linkage.ProjectManifest, Path]:
    """The generator's project at ``source`` in fuzzy mode (its exact recipes removed, as
    fuzzy mode refuses what it would ignore), created under ``root / "project"`` with a copy
    of the party keys at ``root / "keys"`` and accepted by every holder."""
    keys = root / "keys"
    shutil.copytree(party_keys, keys)
    data = tomllib.loads((source / "project.toml").read_text(encoding="utf-8"))
    data["project"]["mode"] = "fuzzy"
    del data["recipes"]
    spec = linkage.ProjectSpec.from_dict(data)
    return accept_all(linkage.create_project(spec, keys, root / "project"), keys), keys


def prepared_by_row(report: linkage.PrepareReport, manifest: linkage.ProjectManifest,
                    keys: Path) -> dict:
    """What one prepare wrote, with its random serials replaced by the input rows they
    stand for (through the holder's crosswalk): the keys and payload tables in input order,
    the fields the keys envelope was sealed with, and the report less its paths. Two
    prepares of the same file under the same project key must give the same."""
    from linkage.envelope import open_envelope

    crosswalk = pq.read_table(report.outputs["crosswalk"])
    row = dict(zip(crosswalk.column("serial").to_pylist(),
                   crosswalk.column("row_number").to_pylist(), strict=True))
    opened = {}
    for half, reader in (("keys", manifest.spec.key_manager), ("payload", manifest.spec.combiner)):
        envelope = open_envelope(report.outputs[half], linkage.load_party_secret(
            keys, reader, PASSPHRASE), half, manifest, [report.holder])
        table = envelope.table
        order = np.argsort([row[s] for s in table.column("serial").to_pylist()])
        opened[half] = table.take(order).drop(["serial"])
        opened[f"{half} header"] = {k: v for k, v in envelope.manifest.items() if k in (
            "mode", "fuzzy_params", "recipes", "key_version", "columns", "rows")}
    summary = report.to_dict()
    summary.pop("outputs")
    return {**opened, "report": summary,
            "crosswalk": crosswalk.sort_by("row_number").drop(["serial"])}


@pytest.fixture
def world(tmp_path, party_keys) -> World:
    keys = tmp_path / "keys"
    shutil.copytree(party_keys, keys)
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    (tmp_path / "building.csv").write_text(BUILDING_CSV, encoding="utf-8")
    spec = linkage.ProjectSpec.load(tmp_path / "project.toml")
    project_dir = tmp_path / "data" / spec.id
    manifest = accept_all(linkage.create_project(spec, keys, project_dir), keys)
    return World(tmp_path, keys, project_dir, manifest, project_dir / "exchange")


#: The Spark session's cap on what tasks may return to the driver: the Spark path must do
#: its record-level work in the executors, so no test may pull back more than this.
DRIVER_RESULT_LIMIT = "1m"


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A Spark standalone master and two workers on loopback, for the whole test run."""
    import importlib.util

    from linkage.engines.spark_cluster import standalone_cluster
    from linkage.engines.spark_startup import java_executable
    from tests.conftest import skip_unless_ci

    if importlib.util.find_spec("pyspark") is None:
        skip_unless_ci("pyspark is not installed")
    if java_executable() is None:
        skip_unless_ci("no Java runtime for Spark")
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def spark_engine(spark_cluster):
    """One Spark session on the test cluster for the whole run (each JVM start costs tens
    of seconds), with the driver's result limit at its floor."""
    from linkage.engines.spark import SparkEngine

    return SparkEngine(master=spark_cluster.master_url, conf={
        "spark.driver.maxResultSize": DRIVER_RESULT_LIMIT,
        "spark.executor.memory": "512m", "spark.driver.memory": "1g",
        "spark.cores.max": "2", "spark.sql.shuffle.partitions": "2"})


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request) -> linkage.Engine:
    """Each engine in turn (Spark on the test cluster): the same promises hold on both."""
    if request.param == "spark":
        return request.getfixturevalue("spark_engine")
    return linkage.get_engine("duckdb")


@pytest.fixture
def engine_world(world, engine) -> World:
    """:func:`world` once per engine: the pipeline's promises hold on each."""
    world.engine = engine
    return world


def crowded_keys(seed: int) -> dict[str, pa.Table]:
    """Three holders whose keys come from small pools: many duplicates, records that would
    merge clusters or crowd one, keys missing at random, several new clusters per bucket."""
    rng = random.Random(seed)
    recipes = {"r0": 700, "r1": 250, "r2": 120}  # recipe -> distinct keys to draw from
    pools = {r: [rng.randbytes(32) for _ in range(n)] for r, n in recipes.items()}
    # A few keys sharing their first bytes, so some buckets hold several new clusters.
    for pool in pools.values():
        pool[:8] = [pool[0][:2] + rng.randbytes(30) for _ in range(8)]
    tables = {}
    for holder, rows in (("a", 400), ("b", 350), ("c", 150)):
        columns = {"serial": [rng.randbytes(16).hex() for _ in range(rows)]}
        for recipe, pool in pools.items():
            columns[recipe] = pa.array(
                [None if rng.random() < 0.15 else rng.choice(pool) for _ in range(rows)],
                pa.binary())
        tables[holder] = pa.table(columns)
    return tables
