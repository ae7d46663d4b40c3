"""Writing outputs whole or not at all.

Every output goes to a temporary name in its own directory and is renamed when complete,
so a crash or a refused input never leaves a half-written file where a reader expects one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
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
