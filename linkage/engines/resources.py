"""How many threads and how much memory an engine may use, read off the machine it runs on.

A fixed memory limit beside a thread count that grows with the machine is how a 16-core
server crashed where a 2-core laptop passed (DuckDB gives each thread its own buffers,
so the same limit that holds two threads starves sixteen). Both numbers are therefore
derived together from what this process may really use: the CPUs in its affinity mask
and cgroup quota, and the memory the machine has or its cgroup allows, whichever is
smaller. The operator's settings win over the derivation:

- ``PSEUDOLINK_THREADS``: threads for every engine stage (default: the usable cores);
- ``PSEUDOLINK_DUCKDB_MEMORY``: DuckDB's memory limit for every stage (``8GB``, ``900MB``);
  beyond it DuckDB spills to the stage's private scratch folder.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from linkage.errors import LinkageError

THREADS_SETTING = "PSEUDOLINK_THREADS"
MEMORY_SETTING = "PSEUDOLINK_DUCKDB_MEMORY"

MIB = 1024 * 1024
GIB = 1024 * MIB

#: Share of usable memory one stage may take: the rest is the process's own Arrow
#: buffers, the OS page cache that Parquet reads lean on, and the other party's stage
#: when two holders prepare side by side.
_SHARE = 0.5
#: DuckDB keeps buffers per thread for hash tables and sorts; short of them it reports
#: out-of-memory instead of spilling. Measured at 10M x 7.5M records: combine passed in
#: 4 GiB with 2 threads, failed in 3.7 GiB with 16 and passed in 8 GiB with 16; this much
#: per thread beyond the first two covers that with a margin.
_PER_THREAD = 384 * MIB
_BASE_THREADS = 2

#: What each stage needs with two threads: the measured limits at 10M people on the
#: 2-core machine (link's shared-key hash tables in 1.5 GiB, combine's wide sort in 4 GiB).
STAGE_FLOOR = {"link": 1536 * MIB, "blocking": 1536 * MIB, "combine": 4 * GIB,
               "default": 1 * GIB}
#: Stages whose need grows with the data and that cannot spill all of it: they take the
#: whole share, not just their floor. Combine's wide sort by link id passed at 10M people in
#: 4 GiB but ran out of it at 50M (8.1M links; 6.8 GiB peak with an 11 GB limit). DuckDB's
#: limit is a ceiling, not an allocation: a small combine uses what it needs.
#: Fuzzy blocking holds every record's blocking keys (32 bytes each, one per rule) and the
#: candidate pairs, about 15 million at a million people: a small limit only makes it spill.
TAKES_THE_SHARE = frozenset({"combine", "blocking"})

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$", re.I)
_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MIB,
          "gb": 1000**3, "gib": GIB, "tb": 1000**4, "tib": 1024 * GIB}


@dataclass(frozen=True)
class Machine:
    """What this process may use: CPUs and bytes of memory."""

    cores: int
    memory: int


@dataclass(frozen=True)
class Budget:
    """One stage's threads and memory limit, and where each came from."""

    threads: int
    memory: int
    source: str

    @property
    def duckdb_memory(self) -> str:
        """The limit in DuckDB's own notation (whole MiB)."""
        return f"{max(1, self.memory // MIB)}MiB"


def parse_size(text: str, setting: str = MEMORY_SETTING) -> int:
    """Bytes in a size such as ``8GB`` or ``1536MiB``; a clear error naming the setting.

    >>> parse_size("1536MB"), parse_size("2GiB")
    (1536000000, 2147483648)
    """
    match = _SIZE.match(text)
    if not match:
        raise LinkageError(f"{setting}={text!r} is not a size: write it as 8GB, 1536MB or "
                           "2GiB")
    unit = match.group(2).lower() if match.group(2) else None
    return int(float(match.group(1)) * _UNITS[unit])


def _cgroup_cpus(root: Path) -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max`` or v1 cfs), if one is set."""
    v2 = root / "cpu.max"
    if v2.exists():
        quota, _, period = v2.read_text().partition(" ")
        if quota.strip() != "max" and period.strip():
            return int(quota) / int(period)
        return None
    quota_file, period_file = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
    if quota_file.exists() and period_file.exists():
        quota = int(quota_file.read_text())
        if quota > 0:
            return quota / int(period_file.read_text())
    return None


def _cgroup_memory(root: Path) -> int | None:
    """The memory limit of this process's cgroup (v2 ``memory.max`` or v1), if one is set."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        if path.exists():
            text = path.read_text().strip()
            if text != "max" and int(text) < 1 << 60:  # v1 says "no limit" with ~2^63
                return int(text)
    return None


def _meminfo(path: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def detect_machine(cgroup_root: Path = Path("/sys/fs/cgroup")) -> Machine:
    """The cores and memory this process may use, cgroup limits included."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus(cgroup_root)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    memory = _meminfo() or 4 * GIB
    limit = _cgroup_memory(cgroup_root)
    if limit is not None:
        memory = min(memory, limit)
    return Machine(cores=max(1, cores), memory=memory)


def threads(machine: Machine | None = None) -> int:
    """Threads for an engine stage: ``PSEUDOLINK_THREADS``, else every usable core."""
    setting = os.environ.get(THREADS_SETTING)
    if setting:
        try:
            value = int(setting)
        except ValueError:
            value = 0
        if value < 1:
            raise LinkageError(f"{THREADS_SETTING}={setting!r} must be a whole number of at "
                               "least 1")
        return value
    return (machine or detect_machine()).cores


def stage_budget(stage: str = "default", machine: Machine | None = None) -> Budget:
    """Threads and memory for one stage (``link``, ``blocking``, ``combine``, ``default``).

    The limit is the stage's two-thread need plus ``_PER_THREAD`` for every further
    thread (the whole half for a stage in :data:`TAKES_THE_SHARE`), and never passes half
    of what the machine may use; where that half is too
    small, the threads are cut to what it can feed rather than failing.
    An operator's ``PSEUDOLINK_DUCKDB_MEMORY`` is taken as given.
    """
    machine = machine or detect_machine()
    count = threads(machine)
    setting = os.environ.get(MEMORY_SETTING)
    if setting:
        return Budget(threads=count, memory=parse_size(setting), source=MEMORY_SETTING)
    ceiling = int(machine.memory * _SHARE)
    floor = STAGE_FLOOR.get(stage, STAGE_FLOOR["default"])
    wanted = floor + max(0, count - _BASE_THREADS) * _PER_THREAD
    if wanted <= ceiling:
        return Budget(threads=count, memory=ceiling if stage in TAKES_THE_SHARE else wanted,
                      source="machine")
    # Not enough memory for every thread's buffers: fewer threads within the whole share
    # (and at least the floor, which DuckDB then meets by spilling).
    extra = max(0, ceiling - floor) // _PER_THREAD
    fed = max(1, min(count, _BASE_THREADS + extra))
    return Budget(threads=fed, memory=max(ceiling, min(floor, machine.memory)),
                  source="machine")


def out_of_memory(stage: str, budget: Budget) -> LinkageError:
    """The error to raise when the engine still runs out: what was used and what to set."""
    return LinkageError(
        f"{stage} ran out of memory with {budget.threads} threads and a "
        f"{budget.duckdb_memory} limit ({budget.source}). Give it more memory "
        f"({MEMORY_SETTING}=8GB, for example) or fewer threads ({THREADS_SETTING}=2); "
        "it spills to disk beyond the limit, so free disk space in the workspace helps too")


__all__ = ["Budget", "Machine", "detect_machine", "out_of_memory", "parse_size",
           "stage_budget", "threads"]
