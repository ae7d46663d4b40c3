"""Benchmark: prepare both holders, link and combine end to end, on DuckDB and on Spark.

Target (issue 3): 10M x 10M people (50% overlap) end to end in under 2 minutes on this
2-core machine with DuckDB, link peak memory under 2 GiB. Issue 18: Spark on a standalone
cluster of two workers (``spark-cluster``: a master and two one-core workers on loopback,
started from PySpark's jars by :mod:`linkage.engines.spark_cluster`, as the tests start
theirs) at most 3x DuckDB's time, in the same run; Spark local mode (``spark``) can be
timed beside them. Each stage runs in its own process so that its peak memory is its own
(summed over the process tree, so Spark's driver JVM counts too; on the cluster the
master's, workers' and executors' memory is measured beside it). The two holders prepare side by
side, as they do on their own premises (here sharing one machine; on the cluster each
holder's application takes one of its two cores, ``spark.cores.max``); end to end is the
slower holder's prepare, then link, then combine. The generated registers are kept under
``bench/work/link-source-N`` and reused: they are the input, not the work.

Run alone with ``python bench/link.py``; BENCH_PEOPLE (default 10_000_000) sets the scale,
BENCH_ENGINES (default ``duckdb,spark-cluster``) the engines (``duckdb``, ``spark``,
``spark-cluster``), BENCH_RESULTS where the result goes (a trial run at a small scale
belongs elsewhere than ``bench/results``). Unless BENCH_SCALING=0, each DuckDB
stage also runs alone on one core and on every core (issue 21's speed-up per stage),
BENCH_SCALING_ROUNDS times (default 3; the medians are recorded).

National scale (issue 18): ``BENCH_NATIONAL=1`` (with BENCH_PEOPLE=50000000) pairs the
people with a building register a fifth their size (overlap 0.16, building-only 0.04: 10M
records at 50M), DuckDB only, and records the run under ``figures["national"]`` of
link.json beside the 10M figures: end to end against 10 minutes, each stage's peak memory
against 16 GiB, the disk the run used above its inputs (sampled on the work directory's
file system), and the links each recipe formed beyond the generator's truth.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import WORK, write_result

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "10000000"))
NATIONAL = os.environ.get("BENCH_NATIONAL", "0") == "1"
ALL_ENGINES = ("duckdb", "spark", "spark-cluster")
ENGINES = [e for e in os.environ.get(
    "BENCH_ENGINES", "duckdb" if NATIONAL else "duckdb,spark-cluster").split(",") if e]
#: The national run's register: owners among the people, and owners with no welfare record.
NATIONAL_OVERLAP, NATIONAL_BUILDING_ONLY = 0.16, 0.04
NATIONAL_TARGET_SECONDS = 600
NATIONAL_PEAK_MIB = 16 * 1024
PASSPHRASE = "bench passphrase"
SPARK_MEMORY = "8g"
#: The cluster's sizes: the driver only plans and seals (the executors do the record-level
#: work), each of the two workers lends one core and an executor of this much heap.
CLUSTER_DRIVER_MEMORY = os.environ.get("BENCH_CLUSTER_DRIVER_MEMORY", "2g")
CLUSTER_EXECUTOR_MEMORY = os.environ.get("BENCH_CLUSTER_EXECUTOR_MEMORY", "6g")
CLUSTER_WORKER_MEMORY = os.environ.get("BENCH_CLUSTER_WORKER_MEMORY", "7g")
#: The cluster's cores: two workers of one core each.
CLUSTER_CORES = 2
CLUSTER_TARGET_RATIO = 3.0
TARGET_SECONDS = 120
LINK_PEAK_MIB = 2048
ROOT = Path(__file__).resolve().parent.parent


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def figure_key(engine: str) -> str:
    """The figures' key of a BENCH_ENGINES name: ``spark-cluster`` -> ``spark_cluster``."""
    return engine.replace("-", "_")


def run_stages(work: Path, engine: str, names: list[str], cores: int | None = None,
               cluster: object | None = None) -> dict[str, dict]:
    """Run stages at once, each in a fresh interpreter; each one's wall time and peak tree
    RSS. The two holders prepare on their own premises, so they run side by side here too
    (sharing this machine's two cores, which is the harder case). ``cores`` pins the stages
    to that many CPUs (taskset) with as many threads, for the scaling figures. ``cluster``
    (a :class:`linkage.engines.spark_cluster.Cluster`) is the one the stages run on: its
    daemons' and executors' memory is measured too, and their peak beside the stages'."""
    # Spark's default 2g driver runs out of heap preparing 10M records in local mode.
    env = {"PSEUDOLINK_SPARK_MEMORY": SPARK_MEMORY, **os.environ, "PYTHONPATH": str(ROOT)}
    if cluster is not None:
        env.update({"PSEUDOLINK_SPARK_MASTER": cluster.master_url,
                    "PSEUDOLINK_SPARK_MEMORY": CLUSTER_DRIVER_MEMORY,
                    "PSEUDOLINK_SPARK_EXECUTOR_MEMORY": CLUSTER_EXECUTOR_MEMORY})
        if len(names) > 1:
            # Stages side by side share the cluster as two parties sharing one would: each
            # application takes its share of the cores (a standalone master otherwise
            # hands every core to the first and leaves the other waiting for it to end).
            share = f"spark.cores.max={max(1, CLUSTER_CORES // len(names))}"
            env["PSEUDOLINK_SPARK_CONF"] = ",".join(
                c for c in (os.environ.get("PSEUDOLINK_SPARK_CONF", ""), share) if c)
    # Each party's stage starts with its host's disk quiet: on separate hosts the files an
    # earlier stage wrote are not still being written back under the next one. (A Spark link
    # right after both prepares took 198 to 228 s, alone 175 to 194 s: write-back is the
    # suspect, not proven.) Not timed; alike for every engine.
    os.sync()
    pin: list[str] = []
    if cores is not None:
        env["PSEUDOLINK_THREADS"] = str(cores)
        pin = ["taskset", "-c", ",".join(str(c) for c in range(cores))]
    start = time.perf_counter()
    procs = {name: subprocess.Popen([*pin, sys.executable, __file__, "--stage", name,
                                     str(work), engine], env=env, stdout=subprocess.PIPE,
                                    text=True)
             for name in names}
    peaks = dict.fromkeys(names, 0)
    cluster_peak = together_peak = 0
    ended: dict[str, float] = {}
    while len(ended) < len(procs):
        now = 0
        for name, proc in procs.items():
            if name in ended:
                continue
            if proc.poll() is None:
                rss = _tree_rss_kib(proc.pid)
                peaks[name] = max(peaks[name], rss)
                now += rss
            else:
                ended[name] = time.perf_counter() - start
        if cluster is not None:
            jvms = sum(_tree_rss_kib(pid) for pid in cluster.pids)
            cluster_peak = max(cluster_peak, jvms)
            together_peak = max(together_peak, now + jvms)
        time.sleep(0.1)
    out = {}
    for name, proc in procs.items():
        output = proc.stdout.read()
        if proc.returncode != 0:
            raise RuntimeError(f"stage {engine} {name} failed ({proc.returncode}): "
                               f"{output[-2000:]}")
        inner = json.loads(output.strip().splitlines()[-1])
        out[name] = {"seconds": round(ended[name], 2), "work_seconds": inner["seconds"],
                     "peak_rss_mib": round(peaks[name] / 1024), **inner.get("extra", {})}
        if cluster is not None:
            # The stages that ran at once share the cluster: its peak is theirs together.
            out[name].update({"cluster_peak_rss_mib": round(cluster_peak / 1024),
                              "with_cluster_peak_rss_mib": round(together_peak / 1024)})
    return out


def stage(name: str, work: Path, engine: str) -> None:
    """The body of one stage, in the child process; prints one JSON line."""
    import linkage

    keys_dir, source = work / "keys", work
    manifest = linkage.ProjectManifest.load(work / "project")
    out = work / engine
    # The cluster is Spark too, its master named by PSEUDOLINK_SPARK_MASTER.
    engine = "spark" if engine == "spark-cluster" else engine
    start = time.perf_counter()
    extra: dict = {}
    if name in ("ssis", "building"):
        report = linkage.prepare(manifest, name, source / f"{name}.parquet", out, keys_dir,
                                 PASSPHRASE, engine=engine)
        extra = {"records": report.records}
    elif name == "link":
        report = linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                              out, keys_dir, PASSPHRASE, engine=engine)
        extra = {"links": report.links, "links_per_recipe": report.links_per_recipe}
    elif name == "combine":
        report = linkage.combine(manifest, out / "linkmap.age",
                                 [out / "ssis.payload.age", out / "building.payload.age"],
                                 out / "combined.parquet", keys_dir, PASSPHRASE, engine=engine)
        extra = {"rows": report.rows}
    else:
        raise SystemExit(f"unknown stage {name}")
    print(json.dumps({"seconds": round(time.perf_counter() - start, 2), "extra": extra}))


def accuracy(work: Path, engine: str) -> dict:
    """Precision and recall of the link map against the generator's truth (not timed)."""
    import linkage

    out = work / engine
    quality = linkage.evaluate_linkage(
        out / "linkmap.age",
        {h: linkage.crosswalk_path(work / "keys", linkage.ProjectManifest.load(
            work / "project").id, h) for h in ("ssis", "building")},
        work / "truth.parquet", work / "keys", PASSPHRASE, work / "project")
    return {"links": quality.found_pairs, "correct": quality.correct_pairs,
            "true_pairs": quality.true_pairs, "precision": round(quality.precision, 5),
            "recall": round(quality.recall, 5)}


SCALING = os.environ.get("BENCH_SCALING", "0" if NATIONAL else "1") != "0"
SPEEDUP_TARGET = 1.8
SCALING_ROUNDS = int(os.environ.get("BENCH_SCALING_ROUNDS", "3"))


def core_scaling(work: Path) -> dict:
    """Each DuckDB stage alone on one core and on every core of this machine, one after the
    other (prepare of each holder too): the speed-up per stage that issue 21 asks for.

    ``BENCH_SCALING_ROUNDS`` rounds (default 3): each time is the median of its rounds, as
    one run's time on this shared machine varies by a fifth; the per-round ratios are kept.
    """
    from statistics import median

    cores = os.cpu_count() or 1
    figures: dict = {"cores": cores, "rounds": SCALING_ROUNDS, "stages": {}}
    times: dict[str, dict[int, list[float]]] = {}
    for _ in range(SCALING_ROUNDS):
        for name in ("ssis", "building", "link", "combine"):
            for n in (1, cores):
                seconds = run_stages(work, "duckdb", [name], cores=n)[name]["seconds"]
                times.setdefault(name, {}).setdefault(n, []).append(seconds)
    for name, runs in times.items():
        one, every = median(runs[1]), median(runs[cores])
        figures["stages"][name] = {
            "seconds_1_core": one, f"seconds_{cores}_cores": every,
            "speedup": round(one / every, 2) if every else None,
            "speedup_per_round": [round(a / b, 2) for a, b in zip(runs[1], runs[cores],
                                                                   strict=True) if b]}
    figures["speedup_target"] = SPEEDUP_TARGET
    figures["all_stages_meet_target"] = all(
        (v["speedup"] or 0) >= SPEEDUP_TARGET for v in figures["stages"].values())
    return figures


def _earlier_engines(earlier: dict) -> dict[str, dict]:
    """Figures of engines not run now, kept from the last result (``earlier``) at this scale
    and marked with when they were recorded (``BENCH_ENGINES=spark`` then ``=duckdb`` fills
    both)."""
    if earlier.get("figures", {}).get("people") != PEOPLE:
        return {}
    keys = {figure_key(e) for e in ALL_ENGINES} - {figure_key(e) for e in ENGINES}
    return {k: {**earlier["figures"][k], "from_earlier_run":
                earlier["figures"][k].get("from_earlier_run", earlier.get("recorded_at"))}
            for k in sorted(keys) if k in earlier["figures"]}


@contextmanager
def _cluster_for(engine: str, work: Path) -> Iterator[object | None]:
    """The standalone cluster ``spark-cluster`` runs on, for the engine's stages; none for
    the others. Started from PySpark's jars (as the tests start theirs), stopped after."""
    if engine != "spark-cluster":
        yield None
        return
    from linkage.engines.spark_cluster import standalone_cluster

    logs = work / "spark-cluster-daemons"
    logs.mkdir()
    with standalone_cluster(logs, workers=2, worker_memory=CLUSTER_WORKER_MEMORY,
                            worker_cores=1) as cluster:
        yield cluster


def _cluster_figures(stages: dict[str, dict]) -> dict:
    """What the cluster was and the most memory it held (its JVMs alone, and with the
    stages' drivers at the same instant)."""
    return {"cluster": {"workers": 2, "cores_per_worker": 1,
                        "prepare_cores_per_holder": CLUSTER_CORES // 2,
                        "worker_memory": CLUSTER_WORKER_MEMORY,
                        "executor_memory": CLUSTER_EXECUTOR_MEMORY,
                        "driver_memory": CLUSTER_DRIVER_MEMORY},
            "cluster_peak_rss_mib": max(s["cluster_peak_rss_mib"] for s in stages.values()),
            "with_cluster_peak_rss_mib": max(s["with_cluster_peak_rss_mib"]
                                             for s in stages.values())}


class DiskSampler:
    """The most the work directory's file system held above where it stood at the start,
    sampled each second on a thread: the stages' scratch, spills and outputs together."""

    def __init__(self, path: Path) -> None:
        self.path, self.peak, self._stop = path, 0, threading.Event()
        self._base = shutil.disk_usage(path).used
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.peak = max(self.peak, shutil.disk_usage(self.path).used - self._base)

    def __enter__(self) -> DiskSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _gib(size: int) -> float:
    return round(size / 2**30, 2)


def beyond_truth_per_recipe(links_per_recipe: dict[str, int], quality: dict) -> dict | None:
    """The links each recipe formed that are not true pairs, where the figures settle it:
    when the first recipe (the resident number) formed exactly the correct links and every
    true pair was found, each later recipe's links are all collisions. None otherwise (the
    link map does not say which recipe formed a link, by design)."""
    recipes = list(links_per_recipe)
    first = links_per_recipe[recipes[0]]
    if not (first == quality["correct"] == quality["true_pairs"]):
        return None
    return {recipes[0]: 0, **{r: links_per_recipe[r] for r in recipes[1:]}}


def run_engines(work: Path) -> dict:
    """Each engine's stages, end to end and accuracy, on the work directory (keys and project
    already made)."""
    figures: dict = {}
    archive = _spark_class_archive() if any(e != "duckdb" for e in ENGINES) else None
    for engine in ENGINES:
        with _cluster_for(engine, work) as cluster:
            stages = run_stages(work, engine, ["ssis", "building"], cluster=cluster)
            prepare_seconds = max(s["seconds"] for s in stages.values())
            for name in ("link", "combine"):
                stages.update(run_stages(work, engine, [name], cluster=cluster))
        total = prepare_seconds + stages["link"]["seconds"] + stages["combine"]["seconds"]
        figures[figure_key(engine)] = {
            "stages": stages, "end_to_end_seconds": round(total, 1),
            **({"spark_driver_memory": os.environ.get("PSEUDOLINK_SPARK_MEMORY", SPARK_MEMORY)}
               if engine == "spark" else {}),
            **(_cluster_figures(stages) if engine == "spark-cluster" else {}),
            **({"spark_class_archive": archive} if engine != "duckdb" else {}),
            "prepare_side_by_side_seconds": prepare_seconds,
            "sum_of_stage_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
            "link_peak_rss_mib": stages["link"]["peak_rss_mib"],
            "accuracy": accuracy(work, engine)}
    return figures


def _spark_class_archive() -> bool:
    """Make Spark's class-data-sharing archive, as an installation would once, before
    anything is timed (:mod:`linkage.engines.spark_startup`; otherwise the first stage
    writes it as it ends); whether there is one (``PSEUDOLINK_SPARK_ARCHIVE=off`` times
    the JVMs starting without)."""
    from linkage.engines.spark_startup import archive_path

    subprocess.run([sys.executable, "-m", "linkage.engines.spark_startup"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    path = archive_path()
    return path is not None and path.is_file()


def _prepare_work(work: Path, source: Path) -> tuple[float, dict]:
    """The generated registers (made once per scale, kept), linked into a fresh work
    directory with four parties and an accepted project; the seconds generating took."""
    import anonymize
    import linkage

    shutil.rmtree(work, ignore_errors=True)
    (work / "keys").mkdir(parents=True)
    started = time.perf_counter()
    if not (source / "project.toml").exists():
        shutil.rmtree(source, ignore_errors=True)
        shape = ({"overlap": NATIONAL_OVERLAP, "building_only": NATIONAL_BUILDING_ONLY}
                 if NATIONAL else {"overlap": 0.5})
        linkage.generate_synthetic_data(source, PEOPLE, areas=anonymize.load_admin_areas(),
                                        seed=11, **shape)
    synth_seconds = time.perf_counter() - started
    for name in ("ssis.parquet", "building.parquet", "project.toml", "truth.parquet"):
        os.symlink(source / name, work / name)
    for party, role in (("ssis", "holder"), ("building", "holder"),
                        ("keymanager", "key_manager"), ("agency", "combiner")):
        linkage.create_party(work / "keys", party, role, PASSPHRASE)
    spec = linkage.ProjectSpec.load(work / "project.toml")
    manifest = linkage.create_project(spec, work / "keys", work / "project")
    for holder in spec.holder_ids:  # each holder checks, signs and adds its key share
        linkage.accept_project(manifest, linkage.load_party_secret(
            work / "keys", holder, PASSPHRASE), work / "keys")
    return synth_seconds, json.loads((source / "synth-data.json").read_text())


def _earlier_result() -> dict:
    path = Path(__file__).resolve().parent / "results" / "link.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _national_summary(national: dict | None) -> str:
    if not national:
        return ""
    duck = national["duckdb"]
    return (f"; national scale, {national['people']:,} people x "
            f"{national['building_records']:,} building records (DuckDB): "
            f"{duck['end_to_end_seconds']} s end to end, stage peak "
            f"{duck['peak_rss_mib']} MiB, disk {duck['disk_peak_gib']} GiB above inputs "
            f"of {national['inputs_gib']} GiB, precision "
            f"{duck['accuracy']['precision']:.4f}, recall {duck['accuracy']['recall']:.4f}")


def main_national() -> None:
    """The 50M run, kept beside the 10M figures of link.json (issue 18)."""
    work = WORK / "link"
    source = WORK / f"link-source-{PEOPLE}-national"
    _, synth = _prepare_work(work, source)
    inputs = sum((source / n).stat().st_size for n in ("ssis.parquet", "building.parquet"))
    with DiskSampler(work) as disk:
        figures = run_engines(work)
    shutil.rmtree(work, ignore_errors=True)
    duck = figures["duckdb"]
    duck["peak_rss_mib"] = max(s["peak_rss_mib"] for s in duck["stages"].values())
    duck["disk_peak_gib"] = _gib(disk.peak)
    duck["links_beyond_truth_per_recipe"] = beyond_truth_per_recipe(
        duck["stages"]["link"]["links_per_recipe"], duck["accuracy"])
    national = {"people": PEOPLE, "building_records": synth["rows"]["building"],
                "overlap": NATIONAL_OVERLAP, "building_only": NATIONAL_BUILDING_ONLY,
                # The generator's own time (the registers are made once and reused).
                "synth_seconds": synth["elapsed_seconds"], "true_pairs": synth["true_pairs"],
                "inputs_gib": _gib(inputs), "duckdb": duck,
                "target": f"end to end under {NATIONAL_TARGET_SECONDS} s, every stage's peak "
                          f"under {NATIONAL_PEAK_MIB} MiB (issue 18)",
                "pass": duck["end_to_end_seconds"] < NATIONAL_TARGET_SECONDS
                and duck["peak_rss_mib"] < NATIONAL_PEAK_MIB}
    earlier = _earlier_result()
    figures = {**earlier.get("figures", {}), "national": national}
    summary = earlier.get("summary", "").split("; national scale")[0]
    write_result("link", summary=summary + _national_summary(national),
                 target=earlier.get("target", ""), passed=bool(earlier.get("pass")),
                 figures=figures, peers=earlier.get("peers", {}),
                 packages=("duckdb", "pyarrow", "pyspark", "pyrage"))


def main() -> None:
    if NATIONAL:
        main_national()
        return
    work = WORK / "link"
    source = WORK / f"link-source-{PEOPLE}"
    synth_seconds, synth = _prepare_work(work, source)
    figures: dict = {"people": PEOPLE, "synth_seconds": round(synth_seconds, 1),
                     "true_pairs": synth["true_pairs"], **run_engines(work)}
    cluster_figures = figures.get("spark_cluster")
    if cluster_figures and "duckdb" in figures:
        ratio = cluster_figures["end_to_end_seconds"] / figures["duckdb"]["end_to_end_seconds"]
        cluster_figures["times_duckdb"] = round(ratio, 2)
        cluster_figures["within_target"] = ratio <= CLUSTER_TARGET_RATIO
    if SCALING and "duckdb" in ENGINES:
        figures["duckdb"]["core_scaling"] = core_scaling(work)
    shutil.rmtree(work, ignore_errors=True)
    earlier = _earlier_result()
    figures.update(_earlier_engines(earlier))
    national = earlier.get("figures", {}).get("national")
    if national:
        figures["national"] = national
    duck = figures.get("duckdb")
    passed = bool(duck) and duck["end_to_end_seconds"] < TARGET_SECONDS and \
        duck["link_peak_rss_mib"] < LINK_PEAK_MIB

    engines = [figure_key(e) for e in ALL_ENGINES if figure_key(e) in figures]
    parts = [f"{e}: {figures[e]['end_to_end_seconds']} s end to end"
             + (f" ({figures[e]['times_duckdb']}x DuckDB)" if "times_duckdb" in figures[e]
                else "")
             + f", link peak {figures[e]['link_peak_rss_mib']} MiB"
             + (f" (cluster JVMs peak {figures[e]['cluster_peak_rss_mib']} MiB)"
                if "cluster_peak_rss_mib" in figures[e] else "")
             + f", precision {figures[e]['accuracy']['precision']:.4f}, recall "
             f"{figures[e]['accuracy']['recall']:.4f}"
             + (" (earlier run)" if "from_earlier_run" in figures[e] else "") for e in engines]
    write_result(
        "link",
        summary=f"link pipeline on {PEOPLE:,} people (50% overlap): " + "; ".join(parts)
        + _national_summary(national),
        target=(f"10M x 10M people (50% overlap) prepare+link+combine under "
                f"{TARGET_SECONDS} s with DuckDB, link peak < {LINK_PEAK_MIB} MiB (issue 3); "
                f"Spark on a two-worker standalone cluster at most {CLUSTER_TARGET_RATIO:g}x "
                "DuckDB's time in the same run (issue 18, recorded in its own figures); "
                "Spark local mode timed beside them; national scale (issue 18, "
                "figures['national']): 50M people under "
                f"{NATIONAL_TARGET_SECONDS} s, every stage under {NATIONAL_PEAK_MIB} MiB"),
        passed=passed and PEOPLE >= 10_000_000,
        figures=figures,
        peers={},
        packages=("duckdb", "pyarrow", "pyspark", "pyrage"),
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--stage":
        stage(sys.argv[2], Path(sys.argv[3]), sys.argv[4])
    else:
        main()
