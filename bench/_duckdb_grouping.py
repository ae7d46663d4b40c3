"""Helper: how DuckDB's grouping of many groups scales with threads, alone and in memory.

Exact link's key groupings (``tally``, ``grp`` in :mod:`linkage.engines.duckdb`) group
about 20M rows into 10M keys; they are what keeps link under 1.8x from 1 to 2 cores. This
times the same shape of query (best of 3) pinned to one core and to two, for 1 to 4
threads, so the claim in docs/linkage.md can be checked against any DuckDB release:

    .venv/bin/python bench/_duckdb_grouping.py        # BENCH_RECORD=1 writes the JSON

Not part of ``make bench``: it measures DuckDB, not pseudolink.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import write_result

ROWS = int(os.environ.get("BENCH_ROWS", "20000000"))
QUERY = ("create or replace temp table g as select key, min(c) as a, max(c) as b, "
         "count(*) as n, count(*) filter (where c is null) as z from t group by key "
         "having count(*) >= 2")


def _time(threads: int) -> float:
    """In the child process: best of 3 runs of the grouping with ``threads`` threads."""
    import duckdb

    con = duckdb.connect(config={"threads": threads, "memory_limit": "12GB",
                                 "preserve_insertion_order": False})
    con.execute(f"create table t as select (hash(range) % {ROWS // 2})::uhugeint as key, "
                "case when range % 3 = 0 then null else range end as c "
                f"from range({ROWS})")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        con.execute(QUERY)
        best = min(best, time.perf_counter() - start)
    return round(best, 2)


def main() -> None:
    figures: dict = {"rows": ROWS, "groups": ROWS // 2, "seconds": {}}
    for cores in (1, 2):
        for threads in (1, 2, 3, 4):
            out = subprocess.run(
                ["taskset", "-c", ",".join(str(c) for c in range(cores)), sys.executable,
                 __file__, "--threads", str(threads)],
                capture_output=True, text=True, check=True).stdout
            figures["seconds"][f"{cores} cores, {threads} threads"] = json.loads(out)
            print(cores, "cores", threads, "threads", out.strip(), flush=True)
    seconds = figures["seconds"]
    figures["speedup_1_to_2_cores_threads_equal_cores"] = round(
        seconds["1 cores, 1 threads"] / seconds["2 cores, 2 threads"], 2)
    if os.environ.get("BENCH_RECORD") == "1":
        write_result("duckdb_grouping",
                     summary=f"DuckDB grouping {ROWS:,} rows into {ROWS // 2:,} keys: "
                             f"{figures['speedup_1_to_2_cores_threads_equal_cores']}x from "
                             "1 to 2 cores with threads = cores",
                     target="none: explains exact link's 1-to-2-core ratio (issue 21)",
                     passed=True, figures=figures, peers={})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--threads"]:
        print(json.dumps(_time(int(sys.argv[2]))))
    else:
        main()
