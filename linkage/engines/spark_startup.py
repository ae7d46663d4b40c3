"""Spark's JVM start-up, shortened with a class-data-sharing archive of the classes it loads.

A Spark stage starts a driver JVM and, on a cluster, an executor JVM per worker; each loads
some fifteen thousand classes from Spark's jars before it runs a task, which took 12 to 25
seconds per stage on a busy two-core machine. A dynamic CDS archive (JDK 13+) holds those
classes already parsed and verified: a JVM maps it and starts in about a third of the time.

The first session started without one asks its driver JVM to write one when it exits
(``-XX:ArchiveClassesAtExit``, to a temporary name); at the end of the process this module
ends the JVM, checks the archive with a JVM that must map it, and renames it into place, so
that no later JVM maps a half-written one (a truncated archive crashes the JVM that maps
it). Later sessions map it in the driver and in executors on this host; an executor on a
host without the file, or with another JVM, starts as it did before (the JVM checks the
archive's header and its class path and falls back to loading the jars). The archive holds
class metadata only, no heap objects, so nothing a stage reads or computes reaches it.

``PSEUDOLINK_SPARK_ARCHIVE`` names the file (default: one per Spark install and JVM under
the user's cache folder), or ``off`` to start without one.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

SETTING = "PSEUDOLINK_SPARK_ARCHIVE"
DRIVER_OPTIONS = "spark.driver.extraJavaOptions"
EXECUTOR_OPTIONS = "spark.executor.extraJavaOptions"
#: Seconds the process waits at exit for its driver JVM to write the archive.
DUMP_TIMEOUT = 120


def java_executable() -> str | None:
    """The ``java`` Spark's launcher runs: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


def archive_path() -> Path | None:
    """Where the archive is (or will be); ``None`` where the setting turns it off or no JVM
    is found. The default name changes with the Spark install and the JVM, so an upgrade of
    either makes a new archive instead of one the JVM would refuse."""
    setting = os.environ.get(SETTING, "").strip()
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    if setting:
        return Path(setting).expanduser()
    java = java_executable()
    if java is None:
        return None
    import pyspark

    real = Path(java).resolve()
    fingerprint = hashlib.sha256("\0".join([
        pyspark.__version__, str(Path(pyspark.__file__).parent.resolve()), str(real),
        str(real.stat().st_mtime_ns)]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pseudolink" / "spark" / f"classes-{fingerprint}.jsa"


class Dump(NamedTuple):
    """The archive a driver JVM writes as it exits (``pending``), and where it goes once
    checked (``target``)."""

    pending: Path
    target: Path


def with_archive(conf: Mapping[str, str], *, new_driver: bool = True
                 ) -> tuple[dict[str, str], Dump | None]:
    """``conf`` with the JVM options that map the archive (in the driver, where
    ``new_driver`` says its JVM is yet to start, and in the executors), or that ask a new
    driver to write one as it exits, with that :class:`Dump` (``None`` where it maps one,
    or does neither). The operator's own options are kept, after ours."""
    conf = dict(conf)
    path = archive_path()
    if path is None:
        return conf, None
    if path.is_file():
        for name in (DRIVER_OPTIONS, EXECUTOR_OPTIONS)[0 if new_driver else 1:]:
            conf[name] = _options(f"-XX:SharedArchiveFile={path}", conf.get(name, ""))
        return conf, None
    if not new_driver:
        return conf, None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return conf, None  # a read-only cache: start as before
    pending = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    # The classes it cannot archive (signed jars, generated ones) it would list one by one.
    conf[DRIVER_OPTIONS] = _options(f"-XX:ArchiveClassesAtExit={pending}",
                                    conf.get(DRIVER_OPTIONS, ""), "all=warning,cds*=off")
    return conf, Dump(pending, path)


def _options(archive: str, operator: str, warnings: str = "all=warning") -> str:
    """Our archive option, the JVM's warnings (an archive it sets aside) on stderr rather
    than mixed into a command's output, then the operator's own options."""
    return " ".join(o for o in (archive, "-Xlog:disable", f"-Xlog:{warnings}:stderr",
                                operator) if o)


def publish_at_exit(dump: Dump) -> None:
    """At the end of the process, end the driver JVM (it writes the archive as it exits)
    and put a good archive in place."""
    atexit.register(_publish, *dump)


def _publish(pending: Path, target: Path) -> None:
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    try:
        if process is not None and process.poll() is None:
            active = SparkContext._active_spark_context
            if active is not None:
                active.stop()
            process.stdin.close()  # Spark's gateway exits when its stdin ends
            if process.wait(timeout=DUMP_TIMEOUT) != 0:
                return  # killed, perhaps while writing: the archive may be cut short
        if pending.is_file() and _starts(pending):
            os.replace(pending, target)
    except (OSError, subprocess.SubprocessError):
        pass  # no archive this time; the next session asks again
    finally:
        pending.unlink(missing_ok=True)


def _starts(archive: Path) -> bool:
    """Whether a JVM given ``archive`` starts: one cut short kills it while it maps the
    archive (a whole one it maps, or sets aside where the class path differs)."""
    import tempfile

    java = java_executable()
    if java is None:
        return False
    with tempfile.TemporaryDirectory(prefix="pseudolink-jvm-") as scratch:
        # A JVM that crashes writes its report (hs_err_pid*.log) where it runs: here.
        done = subprocess.run([java, f"-XX:SharedArchiveFile={archive}",
                               f"-XX:ErrorFile={scratch}/hs_err.log", "-version"],
                              capture_output=True, timeout=60, check=False, cwd=scratch)
    return done.returncode == 0


def build() -> Path | None:
    """Make the archive now (an install step: the first stage otherwise writes it as it
    ends, which takes some seconds): a small local job of the kinds the stages run, then
    the session's end writes it. Where it already is, nothing is done."""
    path = archive_path()
    if path is None or path.is_file():
        return path
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from linkage.engines.spark import SparkEngine, spark_session

    spark = spark_session("local[1]")
    SparkEngine(spark).start()
    with tempfile.TemporaryDirectory(prefix="pseudolink-classes-") as folder:
        source = Path(folder) / "rows.parquet"
        pq.write_table(pa.table({"k": list(range(100)), "v": [str(i) for i in range(100)]}),
                       source)
        rows = spark.read.parquet(str(source))
        joined = rows.join(rows.withColumnRenamed("v", "w"), "k").repartition(2, "k")
        joined.sortWithinPartitions("k").write.parquet(str(Path(folder) / "joined"))
        joined.groupBy("w").count().localCheckpoint(eager=True).collect()
    return path


__all__ = ["archive_path", "build", "publish_at_exit", "with_archive"]


if __name__ == "__main__":
    made = build()
    print(made if made is not None else f"no archive ({SETTING} is off, or no java)")
