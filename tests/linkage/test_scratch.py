"""No plaintext outlives its process: scratch is private, removed on exit, and removed when
the process is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linkage import scratch
from linkage.files import atomic_path

_WRITER = """
import sys, time
from linkage import scratch
scratch.set_root(sys.argv[1])
with scratch.private_dir("prepare") as d:
    (d / "keys.parquet").write_bytes(b"PAR1 plaintext linkage keys PAR1")
    print(d, flush=True)
    time.sleep(600)
"""


def _wait_until(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_plaintext_scratch_is_gone_when_the_process_is_killed(tmp_path, sig):
    root = tmp_path / "workspace" / "scratch"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)],
                              stdout=subprocess.PIPE, text=True)
    folder = Path(writer.stdout.readline().strip())
    assert (folder / "keys.parquet").exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    writer.send_signal(sig)
    writer.wait(timeout=10)
    assert _wait_until(lambda: not folder.exists()), f"{folder} outlived its process"


def test_sweep_removes_scratch_of_dead_processes_only(tmp_path):
    root = scratch.set_root(tmp_path / "scratch")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = root / f"link-{dead}-abcdef"
    left.mkdir()
    (left / "keys-1.parquet").write_bytes(b"PAR1")
    with scratch.private_dir("combine") as mine:
        assert scratch.sweep() == [left]
        assert mine.exists()
    assert not left.exists() and not mine.exists()


def test_a_crashed_writers_temporary_is_removed_by_the_next_writer(tmp_path):
    target = tmp_path / "out" / "H.payload.age"
    target.parent.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stub = target.parent / f".{target.name}.{dead}.x1y2.tmp"
    stub.write_bytes(b"half a file")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


_HALF_WRITER = """
import sys, time
from linkage.files import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"serial,crosswalk row of the holder")
    print(tmp, flush=True)
    time.sleep(600)
"""


def test_a_writer_killed_before_its_rename_leaves_no_temporary(tmp_path):
    target = tmp_path / "private" / "H.crosswalk.parquet"
    writer = subprocess.Popen([sys.executable, "-c", _HALF_WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    half = Path(writer.stdout.readline().strip())
    assert half.exists() and half.parent == target.parent
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    # No later write of the same target is needed: the reaper removes it at the death.
    assert _wait_until(lambda: not half.exists()), f"{half} outlived its writer"
    assert list(target.parent.iterdir()) == []


def test_cli_puts_scratch_in_the_workspace_and_reports_what_it_swept(tmp_path):
    workdir = tmp_path / "ws"
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run([sys.executable, "-m", "pseudolink", "init", "--workdir", str(workdir)],
                   check=True, capture_output=True, env=env)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = workdir / "scratch" / f"open-{dead}-123456"
    left.mkdir(parents=True)
    (left / "plain.tar").write_bytes(b"plaintext")
    run = subprocess.run([sys.executable, "-m", "pseudolink", "project", "list",
                          "--workdir", str(workdir)], capture_output=True, text=True, env=env)
    assert "removed 1 scratch folder(s) left by interrupted runs" in run.stderr
    assert not left.exists()


def test_one_reaper_serves_every_workspace_of_a_process(tmp_path):
    reapers = set()
    for name in ("a", "b", "c"):
        scratch.set_root(tmp_path / name / "scratch")
        with scratch.private_dir("link") as folder:
            assert folder.parent == tmp_path / name / "scratch"
            reapers.add(scratch._reaper.pid)
    assert len(reapers) == 1
