"""Stage 3, at the combination agency: join the attribute halves through the link map.

The combiner opens payloads (serials and attributes) and the link map (link ids and
serials); it never receives an identifier or a linkage key. Holders send every record, so
that no file a holder receives tells it which of its records matched (DESIGN 10); the
combiner keeps the linked ones and drops the rest unread, reporting only how many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from linkage.engines import get_engine
from linkage.engines.duckdb import file_connection
from linkage.envelope import open_envelope_to
from linkage.errors import LinkageError, SerialMismatch
from linkage.files import write_with
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.reports import CombineReport
from linkage.scratch import private_dir

Progress = Callable[[str, int, int | None], None]


def combine(project: ProjectManifest | str | Path, linkmap_path: str | Path,
            payload_paths: Sequence[str | Path], out_path: str | Path,
            keys_dir: str | Path, passphrase: str, *, as_party: str | None = None,
            engine: str = "duckdb", progress: Progress | None = None) -> CombineReport:
    """Write ``out_path`` (Parquet): ``link_id``, then ``{holder}__{column}`` per attribute.

    Holders come in spec order, their columns in spec order; one row per link id.
    """
    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    me = manifest.unlock_as("combiner", as_party, keys_dir, passphrase)
    out_path = Path(out_path)
    total = len(payload_paths) + 2
    compute = get_engine(engine)

    # Decrypted inputs stay on disk in a private scratch directory: the join streams from
    # there, so memory does not grow with tens of millions of records.
    with private_dir("combine") as scratch:
        scratch_dir = Path(scratch)
        _, linkmap = open_envelope_to(linkmap_path, me, "linkmap", manifest,
                                      [spec.key_manager], scratch_dir / "linkmap.parquet")
        _tick(progress, total, 1)
        payloads: dict[str, Path] = {}
        for done, path in enumerate(payload_paths, start=2):
            sealed, data = open_envelope_to(path, me, "payload", manifest, spec.holder_ids,
                                            scratch_dir / f"payload-{done}.parquet")
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
        records = _linked_records(linkmap, payloads, spec.holder_ids, scratch_dir)
        discarded = {h: pq.ParquetFile(p).metadata.num_rows - records[h]
                     for h, p in payloads.items()}

        sources = {h: (p, list(spec.holder(h).attributes)) for h, p in payloads.items()}
        if hasattr(compute, "combine_files"):
            # The engine checks the serials on the stream it writes, and publishes nothing
            # when they do not fit; the slower check runs only to name the culprit.
            try:
                rows, columns = compute.combine_files(linkmap, sources, out_path)
            except SerialMismatch as mismatch:
                if not any(mismatch.missing.values()):
                    _check_serials(linkmap, payloads, scratch_dir)
                raise
        else:
            _check_serials(linkmap, payloads, scratch_dir)
            tables = {h: pq.read_table(p, columns=["serial", *attrs])
                      for h, (p, attrs) in sources.items()}
            combined = compute.combine(pq.read_table(linkmap), tables)
            write_with(out_path, lambda tmp: pq.write_table(combined, tmp))
            rows, columns = combined.num_rows, combined.column_names
    _tick(progress, total, total)
    return CombineReport(project=manifest.id, rows=rows, columns=columns,
                         records_per_holder=records, path=str(out_path),
                         discarded_per_holder=discarded)


def _linked_records(linkmap: Path, payloads: dict[str, Path], holders: Sequence[str],
                    scratch: Path) -> dict[str, int]:
    """Linked records per holder; refuse a link map naming a holder without a payload."""
    con = file_connection(scratch / "spill", "combine")
    try:
        per_holder = dict(con.execute(
            f"select holder, count(*) from read_parquet({_literal(str(linkmap))}) "
            "group by holder").fetchall())
    finally:
        con.close()
    absent = [h for h in holders if h in per_holder and h not in payloads]
    if absent:
        raise LinkageError(f"the link map links records of {', '.join(absent)} but no "
                           "payload of theirs was given")
    return {holder: int(per_holder.get(holder, 0)) for holder in payloads}


def _check_serials(linkmap: Path, payloads: dict[str, Path], scratch: Path) -> None:
    """Refuse payloads that lack a linked serial or repeat a serial, naming the holder.

    Set-wise in DuckDB over the files, within a memory limit.
    """
    con = file_connection(scratch / "spill", "combine")
    try:
        con.execute("create view linkmap as select * from "
                    f"read_parquet({_literal(str(linkmap))})")
        for holder, path in payloads.items():
            payload = f"read_parquet({_literal(str(path))})"
            # One grouping of the payload's serials answers both questions.
            repeated, unknown = con.execute(
                f"with p as (select serial, count(*) as n from {payload} group by serial) "
                "select (select count(*) from p where n > 1), "
                "(select count(*) from linkmap m anti join p using (serial) "
                "where m.holder = ?)", [holder]).fetchone()
            if unknown:
                raise SerialMismatch({holder: unknown})
            if repeated:
                raise LinkageError(f"the payload of holder '{holder}' repeats a serial")
    finally:
        con.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tick(progress: Progress | None, total: int, done: int) -> None:
    if progress is not None:
        progress("combine", done, total)


__all__ = ["combine"]
