"""Stage 3, at the combination agency: join the attribute halves through the link map.

The combiner opens payloads (serials and attributes) and the link map (link ids and
serials); it never receives an identifier or a linkage key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.engines import get_engine
from linkage.envelope import open_envelope
from linkage.errors import LinkageError
from linkage.files import write_with
from linkage.keys.party import load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.reports import CombineReport

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
    party_id = as_party or spec.combiner
    if party_id != spec.combiner:
        raise LinkageError(f"party '{party_id}' is not the combiner of project {manifest.id} "
                           f"({spec.combiner} is)")
    me = load_party_secret(keys_dir, party_id, passphrase)
    out_path = Path(out_path)
    total = len(payload_paths) + 2

    linkmap = open_envelope(linkmap_path, me, "linkmap", manifest, [spec.key_manager]).table
    _tick(progress, total, 1)
    payloads: dict[str, pa.Table] = {}
    for done, path in enumerate(payload_paths, start=2):
        envelope = open_envelope(path, me, "payload", manifest, spec.holder_ids)
        holder = spec.holder(envelope.sender)
        if holder.id in payloads:
            raise LinkageError(f"{path}: a second payload from holder '{holder.id}'")
        missing = [c for c in ["serial", *holder.attributes]
                   if c not in envelope.table.column_names]
        if missing:
            raise LinkageError(f"{path}: lacks attribute columns {missing} of holder "
                               f"'{holder.id}'")
        payloads[holder.id] = envelope.table.select(["serial", *holder.attributes])
        _tick(progress, total, done)

    linked_holders = set(linkmap.column("holder").unique().to_pylist())
    absent = [h for h in spec.holder_ids if h in linked_holders and h not in payloads]
    if absent:
        raise LinkageError(f"the link map links records of {', '.join(absent)} but no payload "
                           "of theirs was given")
    payloads = {h: payloads[h] for h in spec.holder_ids if h in payloads}
    records = {}
    for holder, payload in payloads.items():
        serials = pc.filter(linkmap.column("serial"),
                            pc.equal(linkmap.column("holder"), holder))
        unknown = len(serials) - pc.sum(pc.is_in(serials, payload.column("serial"))).as_py() \
            if len(serials) else 0
        if unknown:
            raise LinkageError(f"the link map names {unknown} serials of holder '{holder}' "
                               "that its payload lacks: a payload of another prepare run?")
        if pc.count_distinct(payload.column("serial")).as_py() != payload.num_rows:
            raise LinkageError(f"the payload of holder '{holder}' repeats a serial")
        records[holder] = len(serials)

    combined = get_engine(engine).combine(linkmap, payloads)
    write_with(out_path, lambda tmp: pq.write_table(combined, tmp))
    _tick(progress, total, total)
    return CombineReport(project=manifest.id, rows=combined.num_rows,
                         columns=combined.column_names, records_per_holder=records,
                         path=str(out_path))


def _tick(progress: Progress | None, total: int, done: int) -> None:
    if progress is not None:
        progress("combine", done, total)


__all__ = ["combine"]
