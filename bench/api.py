"""Benchmark: paged rows and CSV downloads from the open-data API and from datasette, same run.

A released table of BENCH_API_ROWS rows (1M by default) and a small one of SMALL_ROWS rows
(a CSV of about 260 KB, the download of issue 23) are served on loopback by ``pseudolink``'s
API (a real catalog, the releases' Parquet artifacts) and by ``datasette`` (the same rows in
SQLite, immutable). ``wrk`` runs three workloads against each for the same time: random
100-row pages as JSON objects at BENCH_API_CONNECTIONS (16) connections (issue 10), the same
at 200 connections, and whole-file CSV downloads at 200 connections (issue 23). Throughput
(2xx answers only), p50 and p99 latency are recorded for both servers, and the threads and
resident memory of each server process, sampled from ``/proc`` during the runs, and the CPU
time each server spent per request (less sensitive than throughput to the load of a shared
machine; the 1-minute load average before and after is recorded too). Both
servers run side by side and take turns, each workload BENCH_API_ROUNDS (2) times, so that
a change in the load of the (shared) machine falls on both alike. Run alone:
``python bench/api.py`` (``BENCH_API_ROWS=100000`` for a quick run).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, write_result

import catalog

ROWS = int(os.environ.get("BENCH_API_ROWS", "1000000"))
SMALL_ROWS = 4_000
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "15"))
#: Longer: at 200 connections a slow server finishes its first downloads only after seconds.
CSV_SECONDS = int(os.environ.get("BENCH_API_CSV_SECONDS", "30"))
CONNECTIONS = int(os.environ.get("BENCH_API_CONNECTIONS", "16"))
HEAVY_CONNECTIONS = 200
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "2"))
PAGE = 100
BIN = Path(sys.executable).parent
#: Issue 23's bounds on the API server during the 200-connection runs.
MAX_THREADS, MAX_RSS_MIB, MIN_RATIO = 100, 600, 1.5


def make_table(work: Path) -> tuple[Path, Path, Path]:
    """The large and the small release as Parquet, and the same rows as SQLite."""
    parquet, small, sqlite = work / "bench-rows.parquet", work / "bench-small.parquet", \
        work / "bench.db"
    con = duckdb.connect()
    con.execute(f"""
        COPY (SELECT range AS person,
                     ['서울', '부산', '대구', '인천'][range % 4 + 1] AS sido,
                     '구' || (range % 25)::VARCHAR AS sigungu,
                     1940 + range % 70 AS birth_year,
                     CASE WHEN range % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
                     round((range * 7919 % 100000) * 1.37, 2)::DOUBLE AS income,
                     ['생계', '의료', '주거', '교육'][range % 4 + 1] AS benefit_type,
                     (range * 104729) % 900000 AS benefit_amount
              FROM range({ROWS}))
        TO '{parquet}' (FORMAT parquet)
    """)
    con.execute(f"COPY (SELECT * FROM '{parquet}' WHERE person < {SMALL_ROWS}) "
                f"TO '{small}' (FORMAT parquet)")
    with sqlite3.connect(sqlite) as db:
        for name, path in (("rows", parquet), ("small", small)):
            table = pq.read_table(path)
            names = table.column_names
            db.execute(f"CREATE TABLE {name} ({', '.join(names)})")
            placeholders = ", ".join("?" for _ in names)
            for batch in table.to_batches(100_000):
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                db.executemany(f"INSERT INTO {name} VALUES ({placeholders})",
                               zip(*columns, strict=True))
    return parquet, small, sqlite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=30).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def run_wrk(url: str, connections: int, seconds: int, *, paged: bool) -> dict[str, float]:
    """wrk for ``seconds``: requests/s, p50/p99 latency (ms), and answers other than 2xx.

    ``paged`` appends a random page offset to ``url``; otherwise every request is ``url``.
    """
    scheme, _, host, path = url.split("/", 3)
    script = WORK / "api" / "requests.lua"
    offset = (f"math.random(0, {max(ROWS // PAGE - 1, 0)}) * {PAGE}" if paged else "''")
    script.write_text(
        "math.randomseed(7)\n"
        "request = function()\n"
        f"  return wrk.format('GET', '/{path}' .. {offset})\n"
        "end\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
         "-s", str(script), f"{scheme}//{host}"],
        capture_output=True, text=True, check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    return {
        "connections": connections,
        "requests": total,
        "requests_per_s": round(rate, 1),
        # Only whole 2xx answers count as served (a 429 is quick and serves nothing).
        "ok_per_s": round(rate * (total - failed) / total, 1) if total else 0.0,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": failed,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out,
                            re.MULTILINE).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def _status(pid: int) -> dict[str, int]:
    """Threads and resident memory (VmRSS, VmHWM in KiB) of a live process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("Threads", "VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


class Sampler:
    """Samples a server's threads and RSS every 0.1 s while a workload runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.threads = self.rss_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            status = _status(self.pid)
            self.threads = max(self.threads, status["Threads"])
            self.rss_kib = max(self.rss_kib, status["VmRSS"])
            self._stop.wait(0.1)

    def figures(self) -> dict[str, float]:
        return {"peak_threads": self.threads, "peak_rss_mib": round(self.rss_kib / 1024, 1)}


@dataclass
class Served:
    """A running server and the URLs of its three workloads."""

    name: str
    process: subprocess.Popen
    pages: str
    csv: str
    figures: dict[str, Any] = field(default_factory=dict)


def start(name: str, command: list[str], probe: str, pages: str, csv: str) -> Served:
    """Start a server and warm it: first pages, caches, connection pools, one download."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=Path(__file__).resolve().parents[1])
    wait_for(probe, process)
    for offset in (0, PAGE * 10):
        httpx.get(pages + str(offset), timeout=60).raise_for_status()
    download = httpx.get(csv, timeout=60).raise_for_status()
    idle = _status(process.pid)
    served = Served(name, process, pages, csv)
    served.figures = {"idle": {"threads": idle["Threads"],
                               "rss_mib": round(idle["VmRSS"] / 1024, 1)},
                      "csv_bytes": len(download.content)}
    return served


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:  # still draining streams that wrk left
        served.process.kill()
        served.process.wait()


def workloads() -> list[tuple[str, int, int, bool]]:
    """(name, connections, seconds, paged) of each workload."""
    return [(f"pages_{CONNECTIONS}", CONNECTIONS, SECONDS, True),
            (f"pages_{HEAVY_CONNECTIONS}", HEAVY_CONNECTIONS, SECONDS, True),
            (f"csv_{HEAVY_CONNECTIONS}", HEAVY_CONNECTIONS, CSV_SECONDS, False)]


def measure(servers: list[Served]) -> None:
    """Every workload ROUNDS times on each server, alternating which goes first, so that a
    change in the machine's load (it is shared) falls on both alike."""
    for name, connections, seconds, paged in workloads():
        rounds: dict[str, list[dict]] = {s.name: [] for s in servers}
        for number in range(ROUNDS):
            for served in servers if number % 2 == 0 else servers[::-1]:
                cpu_before = _cpu_seconds(served.process.pid)
                with Sampler(served.process.pid) as sampler:
                    run = run_wrk(served.pages if paged else served.csv, connections, seconds,
                                  paged=paged)
                run.update(sampler.figures())
                rounds[served.name].append(run)
                settle(servers)
                # CPU the server spent (until it settled) per answer wrk counted: unlike
                # throughput, hardly moved by what else the shared machine runs.
                cpu = _cpu_seconds(served.process.pid) - cpu_before
                run["cpu_ms_per_request"] = (round(1000 * cpu / run["requests"], 3)
                                             if run["requests"] else None)
        for served in servers:
            served.figures[name] = combine(rounds[served.name])
    for served in servers:
        served.figures["peak_rss_mib_whole_run"] = round(
            _status(served.process.pid)["VmHWM"] / 1024, 1)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(servers: list[Served], seconds: float = 60) -> None:
    """Wait until no server is still working off requests queued before wrk hung up, so
    that the next run does not share the cores with the last one's backlog."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = [_cpu_seconds(s.process.pid) for s in servers]
        time.sleep(0.5)
        if all(_cpu_seconds(s.process.pid) - b < 0.05 for s, b in zip(servers, before,
                                                                        strict=True)):
            return


def combine(rounds: list[dict]) -> dict:
    """Mean throughput over the rounds, the worst latency and footprint of any."""
    mean = {key: round(sum(r[key] for r in rounds) / len(rounds), 1)
            for key in ("requests_per_s", "ok_per_s")}
    worst = {key: max(r[key] for r in rounds)
             for key in ("p50_ms", "p99_ms", "peak_threads", "peak_rss_mib")}
    total = {key: sum(r[key] for r in rounds)
             for key in ("requests", "non_2xx", "socket_errors")}
    cpu = [r["cpu_ms_per_request"] for r in rounds if r["cpu_ms_per_request"] is not None]
    return {"connections": rounds[0]["connections"], **mean, **worst, **total,
            "cpu_ms_per_request": round(sum(cpu) / len(cpu), 3) if cpu else None,
            "rounds": rounds}


def _compared(name: str, ours: dict, theirs: dict, ratio: float | None) -> str:
    label = name.replace("_", " at ") + " connections"
    mine = (f"{ours['ok_per_s']:,.0f}/s (p99 {ours['p99_ms']:,.0f} ms, "
            f"{_cpu_text(ours)} CPU/request)")
    if ratio is None:
        return f"{label}: {mine} vs datasette: none finished in the run"
    return (f"{label}: {mine} vs datasette {theirs['ok_per_s']:,.0f}/s (p99 "
            f"{theirs['p99_ms']:,.0f} ms, {_cpu_text(theirs)} CPU/request) = {ratio:.2f}x")


def _cpu_text(figures: dict) -> str:
    cpu = figures.get("cpu_ms_per_request")
    return "?" if cpu is None else f"{cpu:.2f} ms"


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench-sysdeps)")
    if not (BIN / "datasette").exists():
        raise SystemExit("datasette is not installed (pip install -e '.[bench]')")
    work = WORK / "api"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    parquet, small, sqlite = make_table(work)
    url = f"sqlite:///{work / 'catalog.db'}"
    catalog.init_catalog(url)
    with catalog.Catalog.connect(url) as cat:
        # Releases are recorded by a privacy officer, whom an administrator registers.
        password = secrets.token_urlsafe(24)
        cat.bootstrap_admin("bench-admin", password)
        cat.record_user("bench-officer", role="privacy_officer", actor="bench-admin")
        cat.register_dataset("bench", title="Bench", path=str(parquet), columns={},
                             project_id=None, lineage={}, actor="bench-officer")
        for release, artifact in (("bench-rows", parquet), ("bench-small", small)):
            cat.record_release(release, dataset_id="bench", form="synthetic",
                               title=f"Synthetic rows ({release})", artifact=str(artifact),
                               checksum=hashlib.sha256(artifact.read_bytes()).hexdigest(),
                               parameters={}, actor="bench-officer")

    servers: list[Served] = []
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}/api/v1/datasets"
        servers.append(start(
            "pseudolink",
            [sys.executable, "-c",
             f"import open_api; open_api.server({url!r}, port={port}).run()"],
            base, f"{base}/bench-rows/rows?limit={PAGE}&offset=", f"{base}/bench-small.csv"))
        # Table counts precomputed, as datasette's docs advise for immutable files: without
        # them every page counts the million rows again (12 pages/s here) while our API
        # knows the count from the file's metadata.
        counts = work / "counts.json"
        subprocess.run([str(BIN / "datasette"), "inspect", str(sqlite), "--inspect-file",
                        str(counts)], check=True, capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}/bench"
        servers.append(start(
            "datasette",
            [str(BIN / "datasette"), "serve", "-i", str(sqlite), "--inspect-file", str(counts),
             "-p", str(port), "--setting", "default_page_size", str(PAGE)],
            f"{base}/rows.json?_size=1",
            # rowid keyset paging (datasette's own "next" links), rows as objects like ours
            f"{base}/rows.json?_shape=objects&_size={PAGE}&_next=",
            # every row of the table, streamed (the table is beyond max_returned_rows)
            f"{base}/small.csv?_stream=on"))
        load_before = os.getloadavg()
        measure(servers)
        load_after = os.getloadavg()
    finally:
        for served in servers:
            stop(served)
    shutil.rmtree(work, ignore_errors=True)
    ours, theirs = servers[0].figures, servers[1].figures
    names = [name for name, *_ in workloads()]
    heavy = names[1:]
    # None where datasette finished nothing in the run: no ratio, "more" is all one can say.
    ratios = {name: (round(ours[name]["ok_per_s"] / theirs[name]["ok_per_s"], 2)
                     if theirs[name]["ok_per_s"] else None) for name in names}
    threads = max(ours[name]["peak_threads"] for name in heavy)
    rss = max(ours[name]["peak_rss_mib"] for name in heavy)
    clean = all(figures[n]["socket_errors"] == 0 and figures[n]["non_2xx"] == 0
                for figures in (ours, theirs) for n in names[:2])
    fast_enough = all(ours[name]["ok_per_s"] >= MIN_RATIO * theirs[name]["ok_per_s"]
                      and ours[name]["ok_per_s"] > 0 for name in names)
    passed = clean and fast_enough and threads < MAX_THREADS and rss < MAX_RSS_MIB
    write_result(
        "api",
        summary=(
            "; ".join(_compared(name, ours[name], theirs[name], ratios[name])
                      for name in names)
            + f"; API server at 200 connections: <= {threads} threads, <= {rss:,.0f} MiB "
              f"resident ({ROWS:,}-row release paged {PAGE} rows at a time; CSV of "
              f"{SMALL_ROWS:,} rows; {ROUNDS} alternating rounds each; load average "
              f"{load_before[0]:.1f} before and {load_after[0]:.1f} after on "
              f"{os.cpu_count()} cores, other work included)"),
        target=(f"paged rows of a 1M-row release at >= {MIN_RATIO}x datasette's throughput "
                f"(issue 10); at 200 connections, paged rows and CSV downloads at >= "
                f"{MIN_RATIO}x datasette's, API server < {MAX_THREADS} threads and < "
                f"{MAX_RSS_MIB} MB resident (issue 23); wrk on loopback, same run, p99 "
                f"for both; throughput counts 2xx answers only (a 429 serves nothing)"),
        passed=passed,
        figures={"rows": ROWS, "small_rows": SMALL_ROWS, "page_rows": PAGE,
                 "seconds": SECONDS, "csv_seconds": CSV_SECONDS, "rounds": ROUNDS,
                 "ours": ours, "ratios": ratios,
                 "peak_threads_200": threads, "peak_rss_mib_200": rss,
                 # The machine may be shared: its 1-minute load average around the runs.
                 "load_average_1min": {"before": round(load_before[0], 2),
                                       "after": round(load_after[0], 2)}},
        peers={"datasette": theirs},
        packages=("duckdb", "pyarrow", "fastapi", "uvicorn", "httptools", "datasette"),
    )


if __name__ == "__main__":
    main()
