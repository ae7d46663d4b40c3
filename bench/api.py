"""Benchmark: paged row queries against the open-data API and against datasette, same run.

A released table of BENCH_API_ROWS rows (1M by default) is served twice on loopback: by
``pseudolink``'s API (a real catalog, the release's Parquet artifact) and by ``datasette``
(the same rows in SQLite, immutable). ``wrk`` asks each for random 100-row pages as JSON
objects for the same time, one after the other; throughput and p99 latency are recorded.
Run alone: ``python bench/api.py`` (``BENCH_API_ROWS=100000`` for a quick run).
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
import time
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, write_result

import catalog

ROWS = int(os.environ.get("BENCH_API_ROWS", "1000000"))
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_API_CONNECTIONS", "16"))
PAGE = 100
BIN = Path(sys.executable).parent


def make_table(work: Path) -> tuple[Path, Path]:
    """The release as Parquet and the same rows as SQLite."""
    parquet, sqlite = work / "bench-rows.parquet", work / "bench.db"
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
    table = pq.read_table(parquet)
    names = table.column_names
    with sqlite3.connect(sqlite) as db:
        db.execute(f"CREATE TABLE rows ({', '.join(names)})")
        placeholders = ", ".join("?" for _ in names)
        for batch in table.to_batches(100_000):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            db.executemany(f"INSERT INTO rows VALUES ({placeholders})", zip(*columns, strict=True))
    return parquet, sqlite


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


def run_wrk(prefix: str) -> dict[str, float]:
    """wrk on random pages: requests/s, p50/p99 latency (ms), and any non-2xx answers."""
    scheme, _, host, path = prefix.split("/", 3)
    script = WORK / "api" / "pages.lua"
    script.write_text(
        "math.randomseed(7)\n"
        "request = function()\n"
        f"  local offset = math.random(0, {max(ROWS // PAGE - 1, 0)}) * {PAGE}\n"
        f"  return wrk.format('GET', '/{path}' .. offset)\n"
        "end\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script),
         f"{scheme}//{host}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "requests_per_s": round(rate, 1),
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out,
                            re.MULTILINE).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def serve_and_measure(command: list[str], probe: str, prefix: str) -> dict[str, float]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=Path(__file__).resolve().parents[1])
    try:
        wait_for(probe, process)
        for offset in (0, PAGE * 10):  # warm: first page, caches, connection pools
            httpx.get(prefix + str(offset), timeout=60).raise_for_status()
        return run_wrk(prefix)
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    work = WORK / "api"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    parquet, sqlite = make_table(work)
    url = f"sqlite:///{work / 'catalog.db'}"
    catalog.init_catalog(url)
    with catalog.Catalog.connect(url) as cat:
        # Releases are recorded by a privacy officer, whom an administrator registers.
        password = secrets.token_urlsafe(24)
        cat.bootstrap_admin("bench-admin", password)
        cat.record_user("bench-officer", role="privacy_officer", actor="bench-admin")
        cat.register_dataset("bench", title="Bench", path=str(parquet), columns={},
                             project_id=None, lineage={}, actor="bench")
        cat.record_release("bench-rows", dataset_id="bench", form="synthetic",
                           title="Synthetic rows", artifact=str(parquet),
                           checksum=hashlib.sha256(parquet.read_bytes()).hexdigest(),
                           parameters={}, actor="bench-officer")

    port = free_port()
    ours = serve_and_measure(
        [sys.executable, "-c",
         f"import open_api; open_api.server({url!r}, port={port}).run()"],
        f"http://127.0.0.1:{port}/api/v1/datasets",
        f"http://127.0.0.1:{port}/api/v1/datasets/bench-rows/rows?limit={PAGE}&offset=",
    )
    port = free_port()
    theirs = serve_and_measure(
        [str(BIN / "datasette"), "serve", "-i", str(sqlite), "-p", str(port),
         "--setting", "default_page_size", str(PAGE)],
        f"http://127.0.0.1:{port}/bench/rows.json?_size=1",
        # rowid keyset paging (datasette's own "next" links), rows as objects like ours
        f"http://127.0.0.1:{port}/bench/rows.json?_shape=objects&_size={PAGE}&_next=",
    )
    ratio = ours["requests_per_s"] / theirs["requests_per_s"]
    shutil.rmtree(work, ignore_errors=True)
    write_result(
        "api",
        summary=(f"open-data API: {ours['requests_per_s']:,.0f} pages/s (p99 {ours['p99_ms']} "
                 f"ms) vs datasette {theirs['requests_per_s']:,.0f} pages/s (p99 "
                 f"{theirs['p99_ms']} ms) = {ratio:.2f}x, random {PAGE}-row pages of "
                 f"{ROWS:,} rows"),
        target="paged row queries of a 1M-row release at >= 1.5x datasette's throughput, "
               "wrk on loopback, same run, p99 reported for both (issue 10)",
        passed=ratio >= 1.5 and ours["non_2xx"] == 0 and theirs["non_2xx"] == 0,
        figures={"rows": ROWS, "page_rows": PAGE, "seconds": SECONDS,
                 "connections": CONNECTIONS, "ours": ours, "ratio": round(ratio, 2)},
        peers={"datasette": theirs},
        packages=("duckdb", "pyarrow", "fastapi", "uvicorn", "datasette"),
    )


if __name__ == "__main__":
    main()
