"""Memory, CPU and task limits for one researcher's server and all its kernels.

LocalProcessSpawner ignores ``mem_limit`` and ``cpu_limit``; the room enforces them
itself, the strongest way the host allows, chosen per resource:

- **cgroups (v1), when writable**: a group per researcher under the hub's own group
  (``<mount>/<hub's group>/pseudolink-room/<room>/<user>``, ``<room>`` a digest of the
  room root, so two rooms on one host never share a group), so nothing escapes what the
  host gave the hub. ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``, where
  swap is accounted) caps the whole room together; past it the kernel's OOM killer
  ends the biggest process, normally the kernel that allocated. ``cpu.cfs_quota_us``
  caps CPU time at ``cpu_limit`` CPUs; ``pids.max`` caps tasks (fork bombs).
- **rlimits, otherwise**: ``prlimit --as`` caps each process's address space (so a
  kernel gets ``MemoryError``, but the limit is per process, not per room),
  ``--nproc`` caps tasks per uid, and ``nice`` lowers the room's CPU priority below
  the hub's (no hard CPU cap: rlimits have none).

The server enters its groups from the shell that starts its sandbox (``sandbox``),
before bwrap and before it drops to the researcher's uid; the group files are root's
(and ``/sys`` is read-only in the room), so the room cannot lift them.
Numeric libraries are told the CPU count through the usual thread variables.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shlex
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

GROUP = "pseudolink-room"
CFS_PERIOD_US = 100_000
#: Tasks (processes and threads) one room may run at once.
MAX_TASKS = 1024
#: Niceness of a room when no CPU cgroup is available.
NICE = 10


@dataclass(frozen=True)
class Limits:
    """What one room may use; None means no limit of that kind."""

    memory: int | None = None
    cpus: float | None = None
    tasks: int | None = MAX_TASKS


@dataclass
class Applied:
    """The limits as set for one room: its cgroups, and the rlimit command prefix."""

    cgroups: dict[str, Path] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)
    #: For each resource, how it is limited: "cgroup", "rlimit" or "nice".
    how: dict[str, str] = field(default_factory=dict)

    def enter(self) -> str:
        """Shell words that move the current shell (``$$``) into the room's groups."""
        return " && ".join(f"echo $$ > {shlex.quote(str(path / 'cgroup.procs'))}"
                           for path in self.cgroups.values()) or "true"

    def environment(self, limits: Limits) -> dict[str, str]:
        """Variables the room sees: the mechanism, and thread counts for numeric code."""
        env = {"PSEUDOLINK_LIMITS": " ".join(f"{k}={v}" for k, v in sorted(self.how.items()))}
        if limits.cpus:
            threads = str(max(1, math.ceil(limits.cpus)))
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "NUMEXPR_MAX_THREADS"):
                env[name] = threads
        return env

    def release(self) -> None:
        """Kill whatever still runs in the room's groups and remove them."""
        release_groups(list(self.cgroups.values()))


def cgroup_mounts(mountinfo: str | None = None) -> dict[str, Path]:
    """Each cgroup-v1 controller's mount point, from /proc/self/mountinfo."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    mounts: dict[str, Path] = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields_, tail = before.split(), after.split()
        if len(fields_) < 5 or len(tail) < 3 or tail[0] != "cgroup" or fields_[3] != "/":
            continue  # a bind mount of a sub-group (fields_[3] != "/") hides the rest
        for option in tail[2].split(","):
            if option not in ("rw", "ro") and "=" not in option:
                mounts.setdefault(option, Path(fields_[4]))
    return mounts


def own_groups(proc_cgroup: str | None = None) -> dict[str, str]:
    """This process's group per v1 controller, from /proc/self/cgroup."""
    text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    groups: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1]:
            for controller in parts[1].split(","):
                groups[controller] = parts[2]
    return groups


def scope_of(room_root: Path | str) -> str:
    """The name of one room root's groups: rooms of two workspaces never share one."""
    return hashlib.sha256(str(room_root).encode()).hexdigest()[:12]


def group_dir(controller: str, scope: str, user: str) -> Path | None:
    """Where ``user``'s group of ``controller`` goes, or None without that controller."""
    mount = cgroup_mounts().get(controller)
    own = own_groups().get(controller)
    if mount is None or own is None:
        return None
    return mount / own.lstrip("/") / GROUP / scope / user


def _kill_members(path: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGKILL)


def release_groups(paths: list[Path], wait: float = 5.0) -> None:
    """Kill every member of ``paths`` and remove the groups (best effort, bounded)."""
    for path in paths:
        _kill_members(path)
    deadline = time.monotonic() + wait
    for path in paths:
        while path.exists():
            try:
                path.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                _kill_members(path)
                time.sleep(0.1)
        with contextlib.suppress(OSError):  # the room's scope, once its last group is gone
            path.parent.rmdir()


def _make_group(controller: str, scope: str, user: str,
                settings: dict[str, str]) -> Path | None:
    """Create (or reset) ``user``'s group of ``controller`` with ``settings``; None if not
    writable here."""
    try:
        path = group_dir(controller, scope, user)
    except OSError:
        return None
    if path is None:
        return None
    try:
        for parent in (path.parent.parent, path.parent):
            parent.mkdir(exist_ok=True)
            # Others may enter their own group but not list who else has a room.
            os.chmod(parent, 0o711)
        if path.exists():
            release_groups([path])  # a server left by a hub that died
        path.mkdir()
        for name, value in settings.items():
            (path / name).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


def apply(scope: str, user: str, limits: Limits, *, use_cgroups: bool = True) -> Applied:
    """Set up ``user``'s limits in the rooms of ``scope`` (``scope_of``): cgroups where
    writable (and wanted), rlimits for the rest."""
    applied = Applied()
    rlimits: list[str] = []

    def make(controller: str, settings: dict[str, str]) -> Path | None:
        return _make_group(controller, scope, user, settings) if use_cgroups else None

    if limits.memory:
        path = make("memory", {"memory.limit_in_bytes": str(limits.memory)})
        if path is not None:
            with contextlib.suppress(OSError):  # only where swap is accounted
                (path / "memory.memsw.limit_in_bytes").write_text(str(limits.memory))
            applied.cgroups["memory"] = path
            applied.how["memory"] = "cgroup"
        else:
            rlimits.append(f"--as={limits.memory}")
            applied.how["memory"] = "rlimit"
    if limits.cpus:
        quota = max(1000, int(limits.cpus * CFS_PERIOD_US))
        path = make("cpu", {"cpu.cfs_period_us": str(CFS_PERIOD_US),
                            "cpu.cfs_quota_us": str(quota)})
        if path is not None:
            applied.cgroups["cpu"] = path
            applied.how["cpu"] = "cgroup"
        else:
            applied.how["cpu"] = "nice"
    if limits.tasks:
        path = make("pids", {"pids.max": str(limits.tasks)})
        if path is not None:
            applied.cgroups["pids"] = path
            applied.how["tasks"] = "cgroup"
        else:
            rlimits.append(f"--nproc={limits.tasks}")
            applied.how["tasks"] = "rlimit"
    if applied.how.get("cpu") == "nice":
        applied.prefix += ["nice", "-n", str(NICE)]
    if rlimits:
        applied.prefix += ["prlimit", *rlimits, "--"]
    return applied
