"""Per-room memory, CPU and task limits, enforced on real processes: by cgroups where the
host lets the hub write them, by rlimits where it does not."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid

import pytest

from analysis_env import AnalysisEnvError
from analysis_env.hub import RoomSettings, limits
from tests.conftest import skip_unless_ci

MiB = 2**20
ALLOCATE = "block = bytearray(600 * 2**20); print('allocated', flush=True)"


def _root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("limits are set by the hub, as root")


def _run(applied: limits.Applied, code: str, timeout: float = 30):
    """Run Python under the room's limits as the spawner does: enter, prefix, command."""
    script = f"{applied.enter()} && exec " + shlex.join(
        [*applied.prefix, sys.executable, "-c", code])
    return subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True,
                          timeout=timeout)


def test_limits_come_from_the_room_settings_with_8g_and_2_cpus_by_default(tmp_path):
    defaults = RoomSettings.load(tmp_path, "sqlite://")
    assert (defaults.mem_bytes, defaults.cpu_limit) == (8 * 2**30, 2.0)
    (tmp_path / "settings.toml").write_text('[room]\nmem_limit = "3.5G"\ncpu_limit = 0.5\n')
    settings = RoomSettings.load(tmp_path, "sqlite://")
    assert (settings.mem_bytes, settings.cpu_limit) == (int(3.5 * 2**30), 0.5)
    assert RoomSettings.load(tmp_path, "sqlite://", mem_limit=0).mem_bytes == 0
    with pytest.raises(AnalysisEnvError, match="not a size"):
        RoomSettings.load(tmp_path, "sqlite://", mem_limit="lots")
    with pytest.raises(AnalysisEnvError, match="under 256M"):
        RoomSettings.load(tmp_path, "sqlite://", mem_limit="100M")
    with pytest.raises(AnalysisEnvError, match="number of CPUs"):
        RoomSettings.load(tmp_path, "sqlite://", cpu_limit=-1)


def test_the_hubs_own_cgroups_are_found_from_proc():
    mountinfo = ("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                 "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                 "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
                 "50 31 0:40 /sub /mnt/x rw - cgroup cgroup rw,pids\n")
    assert limits.cgroup_mounts(mountinfo) == {
        "memory": limits.Path("/sys/fs/cgroup/memory"),
        "cpu": limits.Path("/sys/fs/cgroup/cpu,cpuacct"),
        "cpuacct": limits.Path("/sys/fs/cgroup/cpu,cpuacct")}
    assert limits.own_groups("4:memory:/hub.service\n1:cpu,cpuacct:/\n0::/x\n") == {
        "memory": "/hub.service", "cpu": "/", "cpuacct": "/"}
    assert limits.scope_of("/srv/a/room") != limits.scope_of("/srv/b/room")


@pytest.fixture
def cgroups():
    """Limits applied by cgroups to a throwaway user; removed afterwards."""
    _root()
    scope, user = "test-" + uuid.uuid4().hex[:8], "kim"
    made: list[limits.Applied] = []

    def apply(wanted: limits.Limits) -> limits.Applied:
        applied = limits.apply(scope, user, wanted)
        made.append(applied)
        if applied.how.get("memory") != "cgroup":
            skip_unless_ci("cgroup v1 memory controller not writable here")
        return applied

    yield apply
    for applied in made:
        applied.release()


def test_a_room_beyond_its_memory_cgroup_is_killed(cgroups):
    applied = cgroups(limits.Limits(memory=300 * MiB, cpus=None, tasks=64))
    assert applied.how == {"memory": "cgroup", "tasks": "cgroup"}
    path = applied.cgroups["memory"]
    assert int((path / "memory.limit_in_bytes").read_text()) == 300 * MiB
    assert int((applied.cgroups["pids"] / "pids.max").read_text()) == 64
    assert oct(path.parent.stat().st_mode & 0o777) == "0o711"
    small = _run(applied, "block = bytearray(50 * 2**20); print('allocated')")
    assert small.returncode == 0 and "allocated" in small.stdout
    big = _run(applied, ALLOCATE)
    assert big.returncode == -9 and "allocated" not in big.stdout
    assert "oom_kill 1" in (path / "memory.oom_control").read_text()


def test_a_room_gets_no_more_cpu_than_its_quota(cgroups):
    applied = cgroups(limits.Limits(memory=512 * MiB, cpus=0.2))
    assert applied.how["cpu"] == "cgroup"
    quota = applied.cgroups["cpu"] / "cpu.cfs_quota_us"
    assert int(quota.read_text()) == 20_000
    burn = ("import time\nstart = time.monotonic()\n"
            "while time.monotonic() - start < 1.5: pass\nprint(time.process_time())")
    used = float(_run(applied, burn).stdout)
    assert used < 0.6, f"{used:.2f} s of CPU in 1.5 s under a 0.2-CPU quota"
    assert applied.environment(limits.Limits(cpus=0.2))["OMP_NUM_THREADS"] == "1"


def test_releasing_a_room_kills_what_is_left_in_it_and_removes_its_groups(cgroups):
    applied = cgroups(limits.Limits(memory=512 * MiB, cpus=1))
    script = f"{applied.enter()} && exec sleep 60"
    straggler = subprocess.Popen(["/bin/sh", "-c", script])
    deadline = time.monotonic() + 5
    members = applied.cgroups["memory"] / "cgroup.procs"
    while str(straggler.pid) not in members.read_text().split():
        assert time.monotonic() < deadline, "the process never entered the group"
        time.sleep(0.05)
    applied.release()
    assert straggler.wait(5) == -9
    assert not any(path.exists() for path in applied.cgroups.values())


def test_without_cgroups_rlimits_give_a_memory_error_and_a_lower_priority():
    _root()
    applied = limits.apply("unused", "kim", limits.Limits(memory=300 * MiB, cpus=2),
                           use_cgroups=False)
    assert applied.how == {"memory": "rlimit", "cpu": "nice", "tasks": "rlimit"}
    assert applied.cgroups == {}
    probe = ("import os, resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0], "
             "resource.getrlimit(resource.RLIMIT_NPROC)[0], os.nice(0))\n" + ALLOCATE)
    result = _run(applied, probe)
    assert result.stdout.split()[:3] == [str(300 * MiB), str(limits.MAX_TASKS),
                                         str(min(19, os.nice(0) + limits.NICE))]
    assert "MemoryError" in result.stderr and "allocated" not in result.stdout
