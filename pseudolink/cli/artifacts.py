"""Writing a release's artifact: whole or not at all, and with the checksum the catalog keeps."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas costs most of a second to import: not for `pseudolink --help`
    import pandas as pd


def publish_parquet(frame: pd.DataFrame, releases: Path, release_id: str) -> tuple[Path, str]:
    """Write ``releases/<release_id>.parquet`` through a temporary name; return it and its SHA-256.

    The open-data API refuses to serve a file whose digest differs from the catalog's, so the
    digest is taken from the bytes on disk, after the rename.
    """
    releases.mkdir(parents=True, exist_ok=True)
    out = releases / f"{release_id}.parquet"
    tmp = out.with_name(out.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out, sha256_file(out)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
