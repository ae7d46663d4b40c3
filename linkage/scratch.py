"""Private scratch for plaintext that must not outlive the process that made it.

Preparing, linking and combining decrypt or write plaintext halves to disk so that memory
stays flat at tens of millions of records. A process killed mid-stage (kill -9, an OOM
kill) used to leave those files behind, readable, in the folder whose files are sent to
other parties or in a shared ``/tmp``. Now:

- scratch lives under one root per party: ``<workspace>/scratch`` once the CLI has chosen
  the workspace (:func:`set_root`), else a per-user 0700 folder in the system temp dir;
  each stage's folder is 0700 and named ``<purpose>-<pid>-<random>``;
- the folder is removed on every exit path (``finally``);
- a small reaper process, started with the first scratch folder of a process, is told each
  folder through a pipe and removes them the moment that process dies, however it dies
  (the pipe closes when the kernel reaps the process, so kill -9 is covered);
- :func:`sweep` removes folders of processes that no longer exist (a power cut, a reaper
  killed with its whole process group), and the CLI runs it at every start.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_root: Path | None = None
_reaper: subprocess.Popen[bytes] | None = None
_reaper_pid: int | None = None
_lock = threading.Lock()

#: The reaper: collect the folders and temporary files its owner names (NUL-separated)
#: until the owner's end of the pipe closes, which the kernel does when the owner dies
#: however it dies; then remove them. One reaper per process, whatever the number of
#: folders or workspaces.
_REAPER = """
import os, shutil, sys
try:
    os.setsid()  # not killed with the owner's process group
except OSError:
    pass
for path in sys.stdin.buffer.read().split(b"\\0"):
    if path:
        shutil.rmtree(os.fsdecode(path), ignore_errors=True)
        try:
            os.unlink(path)  # a file: an atomic write's temporary
        except OSError:
            pass
"""


def default_root() -> Path:
    """Scratch root before a workspace is chosen: a per-user 0700 folder in the temp dir."""
    return Path(tempfile.gettempdir()) / f"pseudolink-scratch-{os.getuid()}"


def set_root(path: str | Path, *, create: bool = True) -> Path:
    """Put this process's scratch under ``path`` (the party's workspace); returns it.
    ``create=False`` only records it: the folder is made with the first scratch folder (a
    workspace that does not exist yet is not created by naming it)."""
    global _root
    _root = Path(path)
    return _make_private(_root) if create else _root


def root() -> Path:
    return _make_private(_root or default_root())


def _make_private(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def _watch(path: Path) -> None:
    """Tell this process's reaper (started on first use) to remove ``path`` if we die."""
    global _reaper, _reaper_pid
    with _lock:
        for _attempt in range(2):
            if _reaper is None or _reaper_pid != os.getpid() or _reaper.poll() is not None:
                _reaper = subprocess.Popen(
                    [sys.executable, "-c", _REAPER], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
                # Only this process holds the write end: a child it starts must not keep
                # it open, or the reaper would wait for that child too.
                os.set_inheritable(_reaper.stdin.fileno(), False)  # type: ignore[union-attr]
                _reaper_pid = os.getpid()
            try:
                _reaper.stdin.write(os.fsencode(path) + b"\0")  # type: ignore[union-attr]
                _reaper.stdin.flush()  # type: ignore[union-attr]
                return
            except BrokenPipeError:  # the reaper was killed: start another
                _reaper = None


def watch(path: str | Path) -> None:
    """Have ``path`` (a folder or a temporary file) removed if this process dies before it
    is renamed or removed; an atomic write's temporary is half a plaintext output."""
    _watch(Path(path).absolute())


@contextmanager
def private_dir(purpose: str) -> Iterator[Path]:
    """A 0700 folder for one stage's plaintext, removed on exit or when the process dies."""
    path = root() / f"{purpose}-{os.getpid()}-{secrets.token_hex(6)}"
    _watch(path)
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(base: str | Path | None = None) -> list[Path]:
    """Remove scratch folders left by processes that no longer exist; returns them."""
    base = Path(base) if base is not None else root()
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    for entry in base.iterdir():
        parts = entry.name.rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        if int(parts[1]) != os.getpid() and not _alive(int(parts[1])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


__all__ = ["default_root", "private_dir", "root", "set_root", "sweep", "watch"]
