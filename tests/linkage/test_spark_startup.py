"""Spark's class-data-sharing archive: the first session writes it, later ones start from
it (driver and executors), and none maps an archive cut short."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from linkage.engines import spark_startup
from linkage.engines.spark_startup import DRIVER_OPTIONS, EXECUTOR_OPTIONS, with_archive

ROOT = Path(__file__).resolve().parents[2]

#: A process that starts a local session, runs a job and prints its driver JVM's options.
SESSION = """
from linkage.engines.spark import spark_session
spark = spark_session("local[1]")
rows = spark.range(10)
rows.groupBy((rows.id % 2).alias("odd")).count().collect()
bean = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print("JVM-OPTIONS", " ".join(bean.getInputArguments()))
"""


def _session(archive: Path, *extra_conf: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), spark_startup.SETTING: str(archive),
           "PSEUDOLINK_SPARK_CONF": ",".join(extra_conf)}
    return subprocess.run([sys.executable, "-c", SESSION], env=env, capture_output=True,
                          text=True, timeout=600, check=True)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """An archive written by the first session of a fresh cache folder."""
    from tests.conftest import skip_unless_ci

    if spark_startup.java_executable() is None:
        skip_unless_ci("no Java runtime for Spark")
    archive = tmp_path_factory.mktemp("spark-classes") / "classes.jsa"
    return archive, _session(archive)


def test_options_map_the_archive_and_keep_the_operators_own(tmp_path, monkeypatch):
    archive = tmp_path / "classes.jsa"
    archive.write_bytes(b"an archive")
    monkeypatch.setenv(spark_startup.SETTING, str(archive))
    mine = {DRIVER_OPTIONS: "-Dmine=1", EXECUTOR_OPTIONS: "-Dtheirs=2", "spark.x": "y"}

    conf, dump = with_archive(mine)
    assert dump is None
    assert conf[DRIVER_OPTIONS].startswith(f"-XX:SharedArchiveFile={archive} ")
    assert conf[DRIVER_OPTIONS].endswith(" -Dmine=1")
    assert conf[EXECUTOR_OPTIONS].startswith(f"-XX:SharedArchiveFile={archive} ")
    assert conf[EXECUTOR_OPTIONS].endswith(" -Dtheirs=2")
    assert conf["spark.x"] == "y"
    # A driver already running keeps its options; new executors still map the archive.
    conf, _ = with_archive(mine, new_driver=False)
    assert conf[DRIVER_OPTIONS] == "-Dmine=1"
    assert "SharedArchiveFile" in conf[EXECUTOR_OPTIONS]

    monkeypatch.setenv(spark_startup.SETTING, "off")
    assert with_archive(mine) == (mine, None)


def test_without_an_archive_a_new_driver_writes_one_beside_it(tmp_path, monkeypatch):
    archive = tmp_path / "cache" / "classes.jsa"
    monkeypatch.setenv(spark_startup.SETTING, str(archive))
    conf, dump = with_archive({})
    assert dump is not None and dump.target == archive
    assert dump.pending.parent == archive.parent and dump.pending != archive
    assert f"-XX:ArchiveClassesAtExit={dump.pending}" in conf[DRIVER_OPTIONS]
    assert EXECUTOR_OPTIONS not in conf  # nothing to map yet
    assert with_archive({}, new_driver=False) == ({}, None)


@pytest.mark.spark
def test_the_first_session_leaves_an_archive_the_next_starts_from(first_run, tmp_path):
    archive, first = first_run
    assert archive.is_file() and archive.stat().st_size > 1 << 20
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]  # no temporary left
    assert "[warning]" not in first.stdout + first.stderr  # the classes it skipped: unlisted

    loaded = tmp_path / "loaded.log"
    second = _session(archive, f"{DRIVER_OPTIONS}=-Xlog:class+load=info:file={loaded}")
    assert f"-XX:SharedArchiveFile={archive}" in second.stdout
    assert "Unable to use shared archive" not in second.stderr
    # Spark's own classes came from the archive, not from its jars.
    log = loaded.read_text()
    assert "org.apache.spark.SparkContext source: shared objects file (top)" in log


@pytest.mark.spark
def test_an_archive_cut_short_is_never_put_in_place(first_run, tmp_path):
    archive, _ = first_run
    pending, target = tmp_path / ".classes.1.tmp.jsa", tmp_path / "classes.jsa"
    with open(archive, "rb") as whole, open(pending, "wb") as cut:
        cut.write(whole.read(1 << 20))
    _publish(pending, target)
    assert not target.exists() and not pending.exists()
    assert not list(tmp_path.glob("hs_err*"))  # the JVM it crashed left no report behind
    shutil.copy(archive, pending)  # a whole one goes in
    _publish(pending, target)
    assert target.is_file() and not pending.exists()


def _publish(pending: Path, target: Path) -> None:
    """What a process does at exit, in a process of its own (one with no Spark session:
    this one's must not be stopped)."""
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                    "from linkage.engines.spark_startup import _publish; "
                    "_publish(Path(sys.argv[1]), Path(sys.argv[2]))", str(pending),
                    str(target)], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                   timeout=120, cwd=target.parent)
