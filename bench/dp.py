"""Benchmark: latency of each DP statistic, pseudolink against OpenDP's Context API on Polars.

Both sides answer the same queries (same mechanism, clamping bounds, declared keys and
epsilon 1.0) over the same Parquet file of ``BENCH_DP_ROWS`` people (1,000,000 by default),
``BENCH_DP_REPEATS`` times each; each query's time covers building the measurement (OpenDP
resolving its plan and privacy map) and running it, with the data already in memory.

OpenDP 0.16's Context API pins polars 1.36.1, which this project's polars 2 breaks, so the
peer runs in its own virtual environment (``bench/work/opendp-peer``, made on first run with
``python -m venv`` and pip: opendp of the same version, polars==1.36.1, pyarrow, numpy), in a
subprocess that times itself. Target: pseudolink's median latency at most a tenth of the
Context API's, for every statistic both offer.

Run alone: ``python bench/dp.py``; reduced: ``BENCH_DP_ROWS=100000 BENCH_DP_REPEATS=3``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _harness import WORK, write_result

ROWS = int(os.environ.get("BENCH_DP_ROWS", "1000000"))
REPEATS = int(os.environ.get("BENCH_DP_REPEATS", "5"))
EPSILON = 1.0
PEER_VENV = WORK / "opendp-peer"
INCOME = (0.0, 200_000_000.0)
BIRTH = (1900, 2026)
BENEFITS = ["none", "기초생활보장", "기초연금", "장애인복지", "아동수당"]

#: name -> (statistic, column, by, quantile); the peer script reads the same table.
QUERIES = {
    "count": ("count", None, [], None),
    "sum": ("sum", "income", [], None),
    "mean": ("mean", "income", [], None),
    "variance": ("variance", "income", [], None),
    "median": ("quantile", "birth_year", [], 0.5),
    "histogram_sido": ("histogram", "sido", [], None),
    "count_by_sido_benefit": ("count", None, ["sido", "benefit_type"], None),
    "sum_by_sido": ("sum", "income", ["sido"], None),
}

PEER = r'''
import json, sys, time
import polars as pl
import opendp.prelude as dp

dp.enable_features("contrib")
spec = json.loads(sys.argv[1])
queries, keys, repeats = spec["queries"], spec["keys"], spec["repeats"]
lo, hi = spec["income"]
b_lo, b_hi = spec["birth"]
data = pl.read_parquet(spec["data"]).lazy()  # in memory, as on our side
n_queries = len(queries) * repeats
context = dp.Context.compositor(
    data=data, privacy_unit=dp.unit_of(contributions=1),
    privacy_loss=dp.loss_of(epsilon=spec["epsilon"] * n_queries),
    split_evenly_over=n_queries,
    margins=[dp.polars.Margin(by=[], max_length=spec["rows"]),
             dp.polars.Margin(by=["sido"], max_length=spec["rows"]),
             dp.polars.Margin(by=["sido", "benefit_type"], max_length=spec["rows"])])
key_frames = {c: pl.DataFrame({c: v}) for c, v in keys.items()}
both = key_frames["sido"].join(key_frames["benefit_type"], how="cross")
income = pl.col("income").fill_null(0.0).dp.sum(bounds=(lo, hi))

def build(name):
    q = context.query()
    if name == "count":
        return q.select(dp.len())
    if name == "sum":
        return q.select(income)
    if name == "mean":
        return q.select(pl.col("income").fill_null(0.0).dp.mean(bounds=(lo, hi)))
    if name == "median":
        return q.select(pl.col("birth_year").fill_null(b_lo).dp.quantile(
            0.5, candidates=list(range(b_lo, b_hi + 1))))
    if name == "histogram_sido":
        return q.group_by("sido").agg(dp.len()).with_keys(key_frames["sido"])
    if name == "count_by_sido_benefit":
        return q.group_by(["sido", "benefit_type"]).agg(dp.len()).with_keys(both)
    if name == "sum_by_sido":
        return q.group_by("sido").agg(income).with_keys(key_frames["sido"])
    return None

out = {}
for name in queries:
    if build(name) is None:
        out[name] = None
        continue
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build(name).release().collect()
        times.append(time.perf_counter() - start)
    out[name] = times
print(json.dumps(out))
'''


def dataset(out: Path) -> Path:
    """People with a region, benefit type, birth year and income; one row each."""
    path = out / f"people-{ROWS}.parquet"
    if path.exists():
        return path
    import anonymize

    rng = np.random.default_rng(23)
    sido = list(dict.fromkeys(anonymize.load_admin_areas()["sido"]))
    frame = pd.DataFrame({
        "link_id": np.arange(ROWS, dtype=np.int64),
        "sido": rng.choice(sido, ROWS),
        "benefit_type": rng.choice(BENEFITS, ROWS, p=[0.7, 0.08, 0.12, 0.04, 0.06]),
        "birth_year": rng.integers(1920, 2025, ROWS),
        "income": np.round(rng.gamma(2.0, 1.5e7, ROWS), 0),
    })
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def ours(path: Path) -> dict[str, list[float]]:
    from anonymize.dp import DPQuery, DPSchema, bound_contributions, dp_query

    sido = sorted(pd.read_parquet(path, columns=["sido"])["sido"].unique().tolist())
    schema = DPSchema(bounds={"income": INCOME, "birth_year": BIRTH},
                      keys={"sido": sido, "benefit_type": BENEFITS})
    data = bound_contributions(pd.read_parquet(path), "link_id", 1)
    times: dict[str, list[float]] = {}
    for name, (statistic, column, by, quantile) in QUERIES.items():
        query = DPQuery(statistic, epsilon=EPSILON, column=column, by=tuple(by),
                        quantile=quantile or 0.5)
        dp_query(data, query, schema)  # warm: imports, OpenDP's library load
        times[name] = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            dp_query(data, query, schema)
            times[name].append(time.perf_counter() - start)
    return times


def peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if python.exists():
        return python
    version = metadata.version("opendp")
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", f"opendp=={version}",
                    "polars==1.36.1", "pyarrow", "numpy"], check=True)
    return python


def peer(path: Path) -> tuple[dict[str, list[float] | None], dict[str, str]]:
    python = peer_python()
    sido = sorted(pd.read_parquet(path, columns=["sido"])["sido"].unique().tolist())
    spec = {"data": str(path), "rows": ROWS, "repeats": REPEATS, "epsilon": EPSILON,
            "queries": list(QUERIES), "income": list(INCOME), "birth": list(BIRTH),
            "keys": {"sido": sido, "benefit_type": BENEFITS}}
    run = subprocess.run([str(python), "-c", PEER, json.dumps(spec, ensure_ascii=False)],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"OpenDP Context API peer failed:\n{run.stderr[-3000:]}")
    versions = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('opendp'), "
                            "m.version('polars'))"], capture_output=True, text=True).stdout
    opendp_version, polars_version = versions.split()
    return json.loads(run.stdout), {"opendp": opendp_version, "polars": polars_version}


def main() -> None:
    path = dataset(WORK / "dp")
    mine = ours(path)
    theirs, versions = peer(path)
    figures: dict[str, dict] = {}
    passed = True
    for name in QUERIES:
        median = statistics.median(mine[name])
        row = {"pseudolink_median_s": round(median, 4),
               "pseudolink_all_s": [round(t, 4) for t in mine[name]]}
        if theirs.get(name):
            peer_median = statistics.median(theirs[name])
            row.update(context_api_median_s=round(peer_median, 4),
                       context_api_all_s=[round(t, 4) for t in theirs[name]],
                       ratio=round(median / peer_median, 4))
            passed &= median <= peer_median / 10
        else:
            row["context_api_median_s"] = None  # no variance in the Context API
        figures[name] = row
    compared = [f for f in figures.values() if f.get("ratio") is not None]
    worst = max(f["ratio"] for f in compared)
    summary = (f"DP latency on {ROWS:,} rows, epsilon {EPSILON}: pseudolink median "
               + ", ".join(f"{n} {f['pseudolink_median_s'] * 1000:.0f} ms"
                           + (f" (Context API {f['context_api_median_s'] * 1000:.0f} ms)"
                              if f.get("context_api_median_s") else "")
                           for n, f in figures.items())
               + f"; worst ratio {worst:.3f}")
    write_result(
        "dp", summary=summary,
        target="pseudolink median latency <= 1/10 of OpenDP's Context API, every statistic",
        passed=passed, figures={"rows": ROWS, "repeats": REPEATS, "epsilon": EPSILON,
                                "queries": figures},
        peers={"opendp_context_api": {**versions, "venv": str(PEER_VENV)}},
        packages=("opendp", "polars", "pandas", "numpy", "pyarrow"))


if __name__ == "__main__":
    main()
