"""Stage 3, at the combination agency: join the attribute halves through the link map.

The combiner opens payloads (serials and attributes) and the link map (link ids and
serials); it never receives an identifier or a linkage key. Holders send every record, so
that no file a holder receives tells it which of its records matched (DESIGN 10); the
combiner keeps the linked ones and drops the rest unread, reporting only how many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

from linkage.engines import Engine, start_engine
from linkage.envelope import PendingSecret, open_envelopes_to
from linkage.errors import LinkageError, SerialMismatch
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.reports import CombineReport
from linkage.scratch import private_dir

Progress = Callable[[str, int, int | None], None]


def combine(project: ProjectManifest | str | Path, linkmap_path: str | Path,
            payload_paths: Sequence[str | Path], out_path: str | Path,
            keys_dir: str | Path, passphrase: str, *, as_party: str | None = None,
            engine: str | Engine = "duckdb", progress: Progress | None = None) -> CombineReport:
    """Write ``out_path`` (Parquet): ``link_id``, then ``{holder}__{column}`` per attribute.

    Holders come in spec order, their columns in spec order; one row per link id.
    """
    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    # The keys unlock (scrypt) while the workers check the inputs' ciphertexts.
    me = PendingSecret(manifest.role_party("combiner", as_party),
                       lambda: manifest.unlock_as("combiner", as_party, keys_dir, passphrase))
    out_path = Path(out_path)
    total = len(payload_paths) + 2

    # Decrypted inputs stay on disk in a private scratch directory: the join streams from
    # there, so memory does not grow with tens of millions of records.
    with private_dir("combine") as scratch:
        scratch_dir = Path(scratch)
        with ThreadPoolExecutor(max_workers=1) as side:
            # The engine loads (DuckDB's imports) and starts (Spark's executors) while the
            # files are checked and opened: side by side in worker processes where they are
            # large (pyrage holds the GIL), the keys unlocking meanwhile.
            loading = side.submit(start_engine, engine)
            opened = open_envelopes_to(
                [(linkmap_path, "linkmap", [spec.key_manager],
                  scratch_dir / "linkmap.parquet"),
                 *((path, "payload", spec.holder_ids, scratch_dir / f"payload-{done}.parquet")
                   for done, path in enumerate(payload_paths, start=2))], me, manifest)
            compute = loading.result()
        _, linkmap = opened[0]
        _tick(progress, total, 1)
        payloads: dict[str, Path] = {}
        for done, (path, (sealed, data)) in enumerate(
                zip(payload_paths, opened[1:], strict=True), start=2):
            holder = spec.holder(sealed["sender"])
            if holder.id in payloads:
                raise LinkageError(f"{path}: a second payload from holder '{holder.id}'")
            names = pq.read_schema(data).names
            missing = [c for c in ["serial", *holder.attributes] if c not in names]
            if missing:
                raise LinkageError(f"{path}: lacks attribute columns {missing} of holder "
                                   f"'{holder.id}'")
            payloads[holder.id] = data
            _tick(progress, total, done)
        payloads = {h: payloads[h] for h in spec.holder_ids if h in payloads}
        records = _linked_records(compute, linkmap, payloads, spec.holder_ids)
        discarded = {h: pq.ParquetFile(p).metadata.num_rows - records[h]
                     for h, p in payloads.items()}

        sources = {h: (p, list(spec.holder(h).attributes)) for h, p in payloads.items()}
        # The engine checks the serials on the stream it writes, and publishes nothing
        # when they do not fit; the slower check runs only to name the culprit.
        try:
            rows, columns = compute.combine_files(linkmap, sources, out_path)
        except SerialMismatch as mismatch:
            if not any(mismatch.missing.values()):
                compute.check_serials(linkmap, payloads)
            raise
    _tick(progress, total, total)
    return CombineReport(project=manifest.id, rows=rows, columns=columns,
                         records_per_holder=records, path=str(out_path),
                         discarded_per_holder=discarded)


def _linked_records(compute: Engine, linkmap: Path, payloads: dict[str, Path],
                    holders: Sequence[str]) -> dict[str, int]:
    """Linked records per holder; refuse a link map naming a holder without a payload."""
    per_holder = compute.linked_records(linkmap)
    absent = [h for h in holders if h in per_holder and h not in payloads]
    if absent:
        raise LinkageError(f"the link map links records of {', '.join(absent)} but no "
                           "payload of theirs was given")
    return {holder: int(per_holder.get(holder, 0)) for holder in payloads}


def _tick(progress: Progress | None, total: int, done: int) -> None:
    if progress is not None:
        progress("combine", done, total)


__all__ = ["combine"]
