"""Loading the microdata behind DP queries once, checked and contribution-bounded.

A service answering many queries must not reread a million rows for each; it keeps the
bounded frame per file, checksum and bound. The contribution bound is drawn once per load:
a fixed random choice per person is still chosen independently of everyone else's rows, so
every query on the cached frame keeps the same ``d_in``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import pyarrow.parquet as pq

from anonymize.dp.bounding import BoundedData, bound_contributions
from anonymize.dp.schema import DPSchema
from anonymize.errors import AnonymizeError

log = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BoundedDataCache:
    """Bounded frames keyed by path, modification time, checksum and contribution bound."""

    def __init__(self) -> None:
        self._frames: dict[tuple, BoundedData] = {}
        self._lock = threading.Lock()

    def get(self, path: str | Path, schema: DPSchema, checksum: str | None = None
            ) -> BoundedData:
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise AnonymizeError(f"data for DP queries is unavailable: {path}: "
                                 f"{exc.strerror}") from None
        key = (str(path), stat.st_mtime_ns, stat.st_size, checksum, schema.privacy_unit,
               schema.max_contributions)
        with self._lock:
            found = self._frames.get(key)
            if found is not None:
                return found
            if checksum is not None and sha256_file(path) != checksum:
                raise AnonymizeError(f"{path}: sha256 differs from the one recorded for DP "
                                     "queries; refusing to answer from a changed file")
            try:
                frame = pq.read_table(path).to_pandas()
            except Exception as exc:
                raise AnonymizeError(f"{path}: cannot read as Parquet: {exc}") from None
            bounded = bound_contributions(frame, schema.privacy_unit, schema.max_contributions)
            # Exact, so for the operator only: answers never carry it.
            log.info("%s: the contribution bound dropped %d rows", path, bounded.rows_dropped)
            self._frames = {k: v for k, v in self._frames.items() if k[0] != str(path)}
            self._frames[key] = bounded
            return bounded
