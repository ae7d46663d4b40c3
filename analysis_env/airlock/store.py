"""Where the airlock keeps submitted files: content-addressed objects, read-only.

The store lives in the workspace (``<workspace>/airlock/objects/<sha256>``), outside
every researcher's room, so what the checkers review is byte for byte what leaves.
Requests, digests, votes and decisions are in the catalog (``catalog.AirlockRecords``),
each change in one transaction with its audit entry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_atomically(source: Path, target: Path, mode: int = 0o444) -> None:
    """Copy under a temporary name in the target's directory, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class AirlockStore:
    """Content-addressed objects under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)

    def keep(self, source: Path) -> str:
        """Store a file by its SHA-256 and return the digest."""
        digest = sha256_of(source)
        target = self.objects / digest
        if not target.exists():
            copy_atomically(source, target)
        return digest

    def object_path(self, digest: str) -> Path:
        return self.objects / digest
