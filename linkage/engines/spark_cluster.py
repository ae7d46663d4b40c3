"""A real Spark standalone cluster on loopback, started from PySpark's own jars.

One master and (by default) two workers, as separate JVMs launched by ``spark-class``: the
executors are other processes than the driver, so anything the pipeline ships to them
(functions, the compiled HMAC helper, this package) must really travel, and anything it
pulls back to the driver is counted against its result limit. The test suite and
``bench/link.py`` both start their cluster here, so what the tests check is what the
benchmark times. Nothing binds beyond 127.0.0.1; it is not a deployment (the operator
guide says how to point pseudolink at a real cluster).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds to wait for the master and each worker; JVM start-up on a busy two-core machine.
START_TIMEOUT = 180
WORKERS = 2


@dataclass
class Cluster:
    """A running cluster: the URL to give ``--spark-master``, and its daemons' processes
    (each worker's executors are its children)."""

    master_url: str
    work_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The master's and the workers' process ids, for measuring their memory."""
        return [process.pid for process in self.processes]

    def logs(self) -> str:
        """The daemons' logs and the executors' stderr, for a failing test's message."""
        parts = []
        for path in sorted(self.work_dir.rglob("*.log")) + sorted(
                self.work_dir.rglob("stderr")):
            parts.append(f"--- {path}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def spark_home() -> Path:
    """PySpark's install folder, which holds ``bin/spark-class`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(log: Path, text: str, count: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {START_TIMEOUT} s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


def _daemon(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    # Its own process group: stopping it stops the JVM spark-class execs and nothing else.
    with log.open("wb") as out:
        return subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


@contextmanager
def standalone_cluster(work_dir: Path, workers: int = WORKERS, worker_memory: str = "1g",
                       worker_cores: int = 1) -> Iterator[Cluster]:
    """A master and ``workers`` workers (``worker_cores`` cores and ``worker_memory`` for
    executors each) bound to 127.0.0.1, logging under ``work_dir``; stopped on exit."""
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1", "SPARK_DAEMON_MEMORY": "256m",
           "SPARK_LOG_DIR": str(work_dir)}
    port = _free_port()
    cluster = Cluster(f"spark://127.0.0.1:{port}", work_dir)
    try:
        master_log = work_dir / "master.log"
        master = _daemon(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                          "--port", str(port), "--webui-port", str(_free_port())],
                         master_log, env)
        cluster.processes.append(master)
        _wait_for(master_log, "I have been elected leader", 1, master, "Spark master")
        for index in range(workers):
            worker_dir = work_dir / f"worker-{index}"
            worker_dir.mkdir()
            cluster.processes.append(_daemon(
                ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                 "--cores", str(worker_cores), "--memory", worker_memory,
                 "--work-dir", str(worker_dir),
                 "--webui-port", str(_free_port()), cluster.master_url],
                work_dir / f"worker-{index}.log", env))
        _wait_for(master_log, "Registering worker", workers, master, "Spark workers")
        yield cluster
    finally:
        for process in reversed(cluster.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in cluster.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


__all__ = ["Cluster", "spark_home", "standalone_cluster"]
