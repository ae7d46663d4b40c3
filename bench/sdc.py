"""Benchmark: disclosure-control risk measures and the least-loss search, beside pyCANON.

Targets (issue 6): risk measures on 10M rows x 4 QIs in < 30 s; the search on 1M rows x 4 QIs
with their full hierarchies in < 5 min; pyCANON's k, l and t on 100k rows reported beside.
Scale down with BENCH_SDC_RISK_ROWS / BENCH_SDC_SEARCH_ROWS / BENCH_SDC_PYCANON_ROWS; targets
are scaled linearly to the rows actually run and the result says so.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import peak_rss_mib, write_result

from anonymize import Target, load_admin_areas, risk_report
from anonymize.sdc import resolve_hierarchies as resolve_hierarchies_for_bench

RISK_ROWS = int(os.environ.get("BENCH_SDC_RISK_ROWS", "10000000"))
SEARCH_ROWS = int(os.environ.get("BENCH_SDC_SEARCH_ROWS", "1000000"))
PYCANON_ROWS = int(os.environ.get("BENCH_SDC_PYCANON_ROWS", "100000"))
QI = ["sigungu_code", "birth_year", "sex", "income"]
SENSITIVE = "benefit_type"


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic microdata shaped like the demo's combined SSIS columns."""
    rng = np.random.default_rng(seed)
    codes = load_admin_areas()["sigungu_code"].to_numpy()
    return pd.DataFrame({
        "sigungu_code": codes[rng.integers(0, len(codes), rows)],
        "birth_year": rng.integers(1925, 2025, rows).astype("int32"),
        "sex": np.array(["F", "M"])[rng.integers(0, 2, rows)],
        "income": (rng.lognormal(17, 0.8, rows) // 100_000 * 100_000).astype("int64"),
        "benefit_type": np.array(["기초연금", "아동수당", "기초생활보장", "장애인복지", "none"])[
            rng.integers(0, 5, rows)],
    })


def main() -> None:
    import anonymize
    from anonymize.sdc import search

    figures: dict = {"risk_rows": RISK_ROWS, "search_rows": SEARCH_ROWS,
                     "pycanon_rows": PYCANON_ROWS, "qi": QI, "sensitive": SENSITIVE}
    frame = table(RISK_ROWS)
    start = time.perf_counter()
    report = risk_report(frame, QI, SENSITIVE)
    figures["risk_seconds"] = round(time.perf_counter() - start, 2)
    figures["risk_classes"] = report.classes
    del frame

    frame = table(SEARCH_ROWS, seed=1)
    hierarchies = resolve_hierarchies_for_bench(frame, QI, {
        "sigungu_code": "sigungu", "birth_year": "birth_year:2025", "sex": "category",
        "income": "income"})
    target = Target(k=5, max_suppression=0.05)
    start = time.perf_counter()
    result = search(frame, QI, hierarchies, target)
    figures["search_seconds"] = round(time.perf_counter() - start, 2)
    figures["search"] = result.stats()
    figures["search_node"] = result.lattice.level_names(result.best.node) if result.best else None
    start = time.perf_counter()
    anonymize.anonymise(frame, QI, k=5, max_suppression=0.05, hierarchies=hierarchies,
                        sensitive=SENSITIVE)
    figures["anonymise_seconds"] = round(time.perf_counter() - start, 2)
    del frame

    peers: dict = {}
    small = table(PYCANON_ROWS, seed=2)
    start = time.perf_counter()
    ours = risk_report(small, QI, SENSITIVE)
    figures["risk_seconds_pycanon_rows"] = round(time.perf_counter() - start, 3)
    try:
        from pycanon import anonymity
    except ImportError:
        peers["pycanon"] = "not installed (pip install --no-deps pycanon==1.3.6)"
    else:
        times = {}
        for name, call in (("k", lambda: anonymity.k_anonymity(small, QI)),
                           ("l", lambda: anonymity.l_diversity(small, QI, [SENSITIVE])),
                           ("t", lambda: anonymity.t_closeness(small, QI, [SENSITIVE]))):
            start = time.perf_counter()
            value = call()
            times[name] = round(time.perf_counter() - start, 3)
            times[f"{name}_value"] = float(value)
        peers["pycanon_1.3.6"] = {"rows": PYCANON_ROWS, "seconds": times,
                                  "agrees_k": times["k_value"] == ours.k,
                                  "agrees_l": times["l_value"] == ours.l_distinct}
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)

    risk_limit = 30 * RISK_ROWS / 10_000_000
    search_limit = 300 * SEARCH_ROWS / 1_000_000
    passed = figures["risk_seconds"] < risk_limit and figures["search_seconds"] < search_limit
    write_result(
        "sdc",
        summary=(f"risk measures: {RISK_ROWS:,} rows x 4 QIs in {figures['risk_seconds']} s "
                 f"(limit {risk_limit:g} s); search: {SEARCH_ROWS:,} rows, "
                 f"{result.nodes} nodes ({result.evaluated} evaluated) in "
                 f"{figures['search_seconds']} s (limit {search_limit:g} s)"),
        target="risk 10M x 4 QIs < 30 s; search 1M x 4 QIs < 300 s (scaled to rows run)",
        passed=passed, figures=figures, peers=peers,
        packages=("pandas", "numpy", "duckdb", "pycanon"),
    )


if __name__ == "__main__":
    main()
