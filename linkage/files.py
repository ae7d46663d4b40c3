"""Writing outputs whole or not at all.

Every output goes to a temporary name in its own directory and is renamed when complete,
so a crash or a refused input never leaves a half-written file where a reader expects one.
A writer killed before the rename leaves its temporary to the process's scratch reaper
(:mod:`linkage.scratch`), and the next write of the same target removes any left still.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from linkage.scratch import watch


def _remove_stale_temps(target: Path) -> None:
    """Remove temporaries of ``target`` left by writers that died (their pid is in the
    name): a crash must not leave stubs that pile up next to the outputs."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        pid = stale.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                stale.unlink(missing_ok=True)
            except PermissionError:
                pass


@contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    watch(tmp)  # killed before the rename: the reaper removes the half-written file
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: str | Path, data: bytes, mode: int | None = None) -> None:
    with atomic_path(target, mode) as tmp:
        tmp.write_bytes(data)


def write_with(target: str | Path, writer: Callable[[Path], None]) -> None:
    """Run ``writer(tmp_path)`` and publish its file as ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
