"""An operating-system fault is one `error:` line naming the file and what to do, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_unless_ci


def _pseudolink(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pseudolink", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 KiB tmpfs mounted for this test alone: a disk that fills up at once."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        skip_unless_ci("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        skip_unless_ci(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_one_error_line_and_no_partial_file(tiny_disk, tmp_path):
    out = tiny_disk / "synth"
    result = _pseudolink("synth-data", "--people", "20000", "--out", str(out), "--seed", "1",
                         cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "no space left" in errors[0]
    # What was published is whole: no final-named Parquet file is cut short.
    import pyarrow.parquet as pq

    for path in out.glob("*.parquet"):
        pq.read_metadata(path)


def test_permission_denied_names_the_file(tmp_path):
    if os.geteuid() == 0:
        # root ignores modes; a read-only bind of the folder is the honest equivalent.
        target = tmp_path / "ro"
        target.mkdir()
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(target), str(target)],
                              capture_output=True, text=True)
        if done.returncode:
            skip_unless_ci(f"cannot bind-mount read-only here: {done.stderr.strip()}")
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=False)
    else:
        target = tmp_path / "ro"
        target.mkdir(mode=0o500)
    try:
        result = _pseudolink("synth-data", "--people", "100", "--out", str(target / "x"),
                             cwd=tmp_path)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(target)], check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert str(target) in result.stderr.replace("\n", "")
    assert "read-only" in result.stderr or "permission" in result.stderr


def test_debug_shows_the_traceback(tiny_disk, tmp_path):
    result = _pseudolink("--debug", "synth-data", "--people", "20000", "--out",
                         str(tiny_disk / "synth"), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
