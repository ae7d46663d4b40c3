"""kill -9 at random moments of the whole pipeline leaves no plaintext scratch behind, no
half-written file under a final name, and a rerun that succeeds.

The demo runs every stage (prepare, link, combine, risk, DP, synthesis, API) in one
process; it is killed with SIGKILL at seeded random points, and after each kill the
workspace is searched for what only a live stage may hold: scratch folders, atomic-write
temporaries, decrypted members. Then the demo runs to the end on the same workspace.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

PEOPLE = "2000"
PASSPHRASE = "correct horse battery staple 2026!"


def _demo(workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PSEUDOLINK_PASSPHRASE": PASSPHRASE, "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "pseudolink", "demo", "--people", PEOPLE,
                             "--workdir", str(workdir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _leftovers(workdir: Path, temp_before: set[str]) -> list[str]:
    found = []
    scratch = workdir / "scratch"
    if scratch.is_dir():
        found += [f"scratch: {p.name}" for p in scratch.iterdir()]
    for path in workdir.rglob("*"):
        if path.name.endswith(".tmp") or path.name.startswith(".prepare-"):
            found.append(f"temporary: {path.relative_to(workdir)}")
    temp = Path(tempfile.gettempdir())
    found += [f"temp dir: {name}" for name in
              {p.name for p in temp.glob("pseudolink-*")} - temp_before]
    return found


def _whole(workdir: Path) -> list[str]:
    """Every Parquet file under a final name opens: nothing is cut short."""
    broken = []
    for path in workdir.rglob("*.parquet"):
        try:
            pq.read_metadata(path)
        except Exception as exc:  # any failure to open is the finding
            broken.append(f"{path.relative_to(workdir)}: {exc}")
    return broken


@pytest.mark.timeout(900)
def test_kill_9_anywhere_leaves_no_plaintext_and_the_rerun_succeeds(tmp_path):
    workdir = tmp_path / "ws"
    temp_before = {p.name for p in Path(tempfile.gettempdir()).glob("pseudolink-*")}
    rng = random.Random(20261204)
    # A whole run first, to time it on this machine: the kills then land at fractions of it.
    started = time.monotonic()
    demo = _demo(workdir)
    _, stderr = demo.communicate(timeout=600)
    assert demo.returncode == 0, stderr.decode()[-3000:]
    whole = time.monotonic() - started
    kills = 0
    for low, high in ((0.05, 0.2), (0.2, 0.4), (0.4, 0.6), (0.05, 0.6)):
        demo = _demo(workdir)
        time.sleep(rng.uniform(low, high) * whole)
        if demo.poll() is not None:  # finished before the kill: nothing to test this round
            continue
        demo.send_signal(signal.SIGKILL)
        demo.wait(timeout=30)
        kills += 1
        deadline = time.monotonic() + 15  # the reaper removes scratch right after the death
        while _leftovers(workdir, temp_before) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _leftovers(workdir, temp_before) == [], f"after kill {kills}"
        assert _whole(workdir) == [], f"after kill {kills}"
    assert kills >= 3, "the demo finished too fast to be killed mid-run"
    demo = _demo(workdir)
    _, stderr = demo.communicate(timeout=600)
    assert demo.returncode == 0, stderr.decode()[-3000:]
    assert _leftovers(workdir, temp_before) == []
