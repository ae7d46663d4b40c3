"""Helper: each DuckDB stage's 2-core speed-up, estimated from its runnable threads.

On a machine shared with other work, wall-clock ratios of ``taskset -c 0`` against
``taskset -c 0,1`` measure the neighbours as much as the stage. This samples, every few
milliseconds, how many threads of the stage's process tree are runnable (state R) and
estimates the speed-up from 1 to 2 cores as

    (sum over samples of min(n, 2), plus samples with n == 0) / samples

that is, the stage's time on one core (its CPU work plus its waits) over its time on two
(every sample). Neighbours slow both alike, so the ratio stays meaningful where the wall
time does not. Samples with exactly one runnable thread are the serial part: the report
names the threads (process:thread) that ran alone, which is where to look.

    BENCH_PEOPLE=1000000 .venv/bin/python bench/_runnable.py [stage ...]

Stages: ssis, building, link, combine (default all); BENCH_ROUNDS repeats them,
BENCH_RECORD=1 writes the medians to bench/results/core_scaling_estimate.json. The folder
``bench/work/runnable-N`` is made once (project, keys, both holders prepared) and reused.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import link as bench_link
from _harness import WORK

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
INTERVAL = float(os.environ.get("BENCH_SAMPLE_SECONDS", "0.005"))
ROOT = Path(__file__).resolve().parent.parent


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(children.get(current, []))
    return out


def _runnable(pids: list[int]) -> list[str]:
    """Names (process:thread) of the runnable threads of these processes."""
    names = []
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii",
                          errors="replace") as fh:
                    text = fh.read()
            except OSError:
                continue
            head, tail = text.rsplit(")", 1)
            if tail.split()[0] == "R":
                role = "main" if tid == str(pid) else head.split("(", 1)[1]
                names.append(f"{pid}:{role}")
    return names


def sample(work: Path, name: str, threads: int = 2) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PSEUDOLINK_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, bench_link.__file__, "--stage", name, str(work),
                             "duckdb"], env=env, stdout=subprocess.PIPE, text=True)
    histogram: Counter[int] = Counter()
    alone: Counter[str] = Counter()
    pids = [proc.pid]
    last_tree = 0.0
    while proc.poll() is None:
        now = time.perf_counter()
        if now - last_tree > 0.05:  # the tree changes rarely; walking /proc is costly
            pids, last_tree = _tree(proc.pid), now
        names = _runnable(pids)
        histogram[min(len(names), 4)] += 1
        if len(names) == 1:
            pid, thread = names[0].split(":", 1)
            alone[("stage" if int(pid) == proc.pid else "child") + ":" + thread] += 1
        time.sleep(INTERVAL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    wall = time.perf_counter() - start
    output = proc.stdout.read()
    if proc.returncode:
        raise RuntimeError(f"stage {name} failed: {output[-2000:]}")
    samples = sum(histogram.values())
    one_core = sum(min(n, 2) * c for n, c in histogram.items()) + histogram[0]
    inner = json.loads(output.strip().splitlines()[-1])
    return {"stage": name, "wall_seconds": round(wall, 2), "work_seconds": inner["seconds"],
            "cpu_seconds": round(cpu, 2),
            "samples": samples, "runnable": {str(k): histogram[k] for k in sorted(histogram)},
            "estimated_speedup_2_cores": round(one_core / samples, 2) if samples else None,
            "serial_share": round(histogram[1] / samples, 3) if samples else None,
            "alone": dict(alone.most_common(8)),
            "load_average": os.getloadavg()}


def setup(work: Path) -> None:
    """Project, keys and prepared halves in ``work`` (made once, reused)."""
    import linkage

    if (work / "duckdb" / "linkmap.age").exists():
        return
    source = WORK / f"link-source-{PEOPLE}"
    if not (source / "project.toml").exists():
        import anonymize

        linkage.generate_synthetic_data(source, PEOPLE, areas=anonymize.load_admin_areas(),
                                        seed=11, overlap=0.5)
    shutil.rmtree(work, ignore_errors=True)
    (work / "keys").mkdir(parents=True)
    for name in ("ssis.parquet", "building.parquet", "project.toml", "truth.parquet"):
        os.symlink(source / name, work / name)
    for party, role in (("ssis", "holder"), ("building", "holder"),
                        ("keymanager", "key_manager"), ("agency", "combiner")):
        linkage.create_party(work / "keys", party, role, bench_link.PASSPHRASE)
    spec = linkage.ProjectSpec.load(work / "project.toml")
    manifest = linkage.create_project(spec, work / "keys", work / "project")
    for holder in spec.holder_ids:
        linkage.accept_project(manifest, linkage.load_party_secret(
            work / "keys", holder, bench_link.PASSPHRASE), work / "keys")
    for name in ("ssis", "building", "link", "combine"):
        bench_link.run_stages(work, "duckdb", [name])


def main() -> None:
    """Sample each stage ``BENCH_ROUNDS`` times (stages in pipeline order each round, so
    that every stage reads its own inputs); with ``BENCH_RECORD=1`` write the medians to
    ``bench/results/core_scaling_estimate.json``."""
    from statistics import median

    from _harness import write_result

    work = WORK / f"runnable-{PEOPLE}"
    setup(work)
    names = sys.argv[1:] or ["ssis", "building", "link", "combine"]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(int(os.environ.get("BENCH_ROUNDS", "1"))):
        for name in names:
            run = sample(work, name)
            runs[name].append(run)
            print(json.dumps(run), flush=True)
    if os.environ.get("BENCH_RECORD") != "1":
        return
    stages = {name: {"estimated_speedup_2_cores": median(r["estimated_speedup_2_cores"]
                                                         for r in found),
                     "runs": [{k: r[k] for k in ("estimated_speedup_2_cores", "serial_share",
                                                 "cpu_seconds", "wall_seconds", "runnable",
                                                 "load_average")} for r in found]}
              for name, found in runs.items()}
    target = bench_link.SPEEDUP_TARGET
    write_result(
        "core_scaling_estimate",
        summary=f"{PEOPLE:,} people, DuckDB, PSEUDOLINK_THREADS=2: estimated 2-core/1-core "
                "speed-up per stage from runnable threads (median of "
                f"{len(next(iter(runs.values())))}): " + ", ".join(
                    f"{n} {v['estimated_speedup_2_cores']}" for n, v in stages.items()),
        target=f"each stage at least {target}x faster on 2 cores than on 1 (issue 21)",
        passed=all(v["estimated_speedup_2_cores"] >= target for v in stages.values()),
        figures={"people": PEOPLE, "sample_seconds": INTERVAL,
                 "method": "(sum of min(runnable threads, 2) + samples with none runnable)"
                           " / samples, over the stage's process tree", "stages": stages},
        peers={}, packages=("duckdb", "pyarrow", "pyrage"))


if __name__ == "__main__":
    main()
