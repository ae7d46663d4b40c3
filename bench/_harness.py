"""Shared plumbing for benchmarks: machine facts, peak memory, and the result file.

Every benchmark writes ``bench/results/NAME.json`` with the keys the foundation issue
fixes: name, summary, target, pass, figures, peers, machine.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

#: Where results are written: BENCH_RESULTS moves a trial run (a small scale, a busy
#: machine) away from the recorded figures.
RESULTS = Path(os.environ.get("BENCH_RESULTS")
               or Path(__file__).resolve().parent / "results")
WORK = Path(__file__).resolve().parent / "work"


def machine(packages: tuple[str, ...] = ("duckdb", "pyarrow", "pandas", "cryptography")) -> dict:
    """Cores, memory and versions: what a reader needs to compare two results."""
    mem_kib = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem_kib = int(fh.readline().split()[1])
    except OSError:
        pass
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    except OSError:
        openssl = ""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "openssl": openssl.strip(),
        "packages": versions,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


@contextmanager
def stopwatch(into: dict, key: str):
    start = time.perf_counter()
    yield
    into[key] = round(time.perf_counter() - start, 3)


def write_result(
    name: str,
    *,
    summary: str,
    target: str,
    passed: bool,
    figures: dict[str, Any],
    peers: dict[str, Any],
    packages: tuple[str, ...] = ("duckdb", "pyarrow", "pandas", "cryptography"),
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    doc = {
        "name": name,
        "summary": summary,
        "target": target,
        "pass": bool(passed),
        "figures": figures,
        "peers": peers,
        "machine": machine(packages),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(summary)
    return out
