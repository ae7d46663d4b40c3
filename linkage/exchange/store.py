"""Where the exchange keeps envelopes: one small interface, a local-directory backend.

Uploads are staged on the exchange's own disk (:class:`Staging`), checked there, and only
then published to the storage under their digest, so a reader never sees a partial or
unchecked file. An S3-compatible backend implements :class:`Storage`'s four methods (an
upload for ``publish``, a streamed GET for ``read``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

_CHUNK = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,200}")


def _checked(project: str, digest: str) -> None:
    if not _TOKEN.fullmatch(project) or not _DIGEST.fullmatch(digest):
        raise ValueError("not a project id and SHA-256 digest")


class Storage(Protocol):
    """Published envelopes, addressed by project and SHA-256."""

    def publish(self, project: str, digest: str, staged: Path) -> None:
        """Move a checked file in, visible under its digest only once complete."""

    def exists(self, project: str, digest: str) -> bool: ...

    def read(self, project: str, digest: str) -> Iterator[bytes]: ...

    def delete(self, project: str, digest: str) -> None: ...


class LocalStorage:
    """Envelopes in a directory: ``<root>/<project>/<sha256>``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, project: str, digest: str) -> Path:
        _checked(project, digest)
        return self.root / project / digest

    def publish(self, project: str, digest: str, staged: Path) -> None:
        target = self._path(project, digest)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A rename within one file system: the file appears whole or not at all.
        os.replace(staged, target)

    def exists(self, project: str, digest: str) -> bool:
        return self._path(project, digest).exists()

    def read(self, project: str, digest: str) -> Iterator[bytes]:
        with open(self._path(project, digest), "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    def delete(self, project: str, digest: str) -> None:
        self._path(project, digest).unlink(missing_ok=True)


class Staging:
    """Uploads in progress, one file per (project, sender, digest), on the exchange's disk.

    Keyed by sender, so one party can never append to another party's upload.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, project: str, sender: str, digest: str) -> Path:
        _checked(project, digest)
        if not _TOKEN.fullmatch(sender):
            raise ValueError("not a party id")
        return self.root / project / sender / f"{digest}.age"

    def size(self, project: str, sender: str, digest: str) -> int:
        path = self.path(project, sender, digest)
        return path.stat().st_size if path.exists() else 0

    def open_at(self, project: str, sender: str, digest: str, offset: int) -> BinaryIO:
        """A file to write the bytes from ``offset`` on (anything after it is dropped)."""
        path = self.path(project, sender, digest)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115 - caller closes
        fh.truncate(offset)
        fh.seek(offset)
        return fh

    def discard(self, project: str, sender: str, digest: str) -> None:
        path = self.path(project, sender, digest)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sig").unlink(missing_ok=True)

    def sweep(self, older_than: float) -> list[Path]:
        """Remove uploads untouched for ``older_than`` seconds: abandoned, not resumable.

        A party's partial uploads would otherwise hold the exchange's disk forever.
        """
        import time

        cutoff = time.time() - older_than
        removed = []
        for path in self.root.glob("*/*/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed
