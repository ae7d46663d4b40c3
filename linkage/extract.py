"""Pseudonymised extraction: only the records that linked leave the holder.

After ``link``, the key manager seals to each holder the serials of its records that linked
(``H.matched.age``). The holder opens it, takes those records from its own sealed copy of
the attributes (``H.held.age``, written by ``prepare``) and seals a payload of just those
records to the combiner. Records that linked to nothing never reach the combination agency.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from linkage.envelope import open_envelope, seal
from linkage.errors import LinkageError
from linkage.keys.party import PartySecret, load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.reports import ExtractReport

Progress = Callable[[str, int, int | None], None]


def held_path(out_dir: Path, holder_id: str) -> Path:
    return out_dir / f"{holder_id}.held.age"


def matched_path(out_dir: Path, holder_id: str) -> Path:
    return out_dir / f"{holder_id}.matched.age"


def check_key_version(path: str | Path, envelope_manifest: dict[str, Any],
                      project: ProjectManifest) -> None:
    """Keys of two project-key versions never agree, so mixing them would silently miss links."""
    version = envelope_manifest.get("key_version", 1)
    if version != project.key_version:
        raise LinkageError(
            f"{path}: prepared under project key version {version}, but project {project.id} "
            f"is at version {project.key_version}; the holder must run `pseudolink holder "
            "prepare` again under the current key")


def seal_matched(out_dir: Path, project: ProjectManifest, key_manager: PartySecret,
                 linkmap: pa.Table) -> dict[str, str]:
    """Seal to each holder the serials of its records that linked; return the paths."""
    outputs = {}
    holders = linkmap.column("holder")
    for holder_id in project.spec.holder_ids:
        serials = pc.filter(linkmap.column("serial"), pc.equal(holders, holder_id))
        path = matched_path(out_dir, holder_id)
        seal(path, pa.table({"serial": serials}), kind="matched", project_id=project.id,
             sender=key_manager, recipient=project.party(holder_id),
             extra={"key_version": project.key_version})
        outputs[f"matched {holder_id}"] = str(path)
    return outputs


def extract(project: ProjectManifest | str | Path, holder_id: str,
            matched: str | Path, out_dir: str | Path, keys_dir: str | Path,
            passphrase: str, *, held: str | Path | None = None,
            progress: Progress | None = None) -> ExtractReport:
    """Write ``out_dir/H.payload.age`` holding only the records the key manager linked.

    ``held`` is the holder's own sealed attributes from ``prepare`` (default
    ``out_dir/H.held.age``).
    """
    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    holder = spec.holder(holder_id)
    out_dir = Path(out_dir)
    held = Path(held) if held else held_path(out_dir, holder_id)
    me = load_party_secret(keys_dir, holder_id, passphrase)
    if me.public != manifest.party(holder_id):
        raise LinkageError(f"the keys of '{holder_id}' in {keys_dir} are not the ones "
                           f"registered in project {manifest.id}")
    linked = open_envelope(matched, me, "matched", manifest, [spec.key_manager]).table
    _tick(progress, 1)
    attributes = open_envelope(held, me, "payload", manifest, [holder_id]).table
    _tick(progress, 2)
    wanted = linked.column("serial")
    keep = pc.is_in(attributes.column("serial"), value_set=wanted)
    payload = attributes.filter(keep).select(["serial", *holder.attributes])
    if payload.num_rows != len(wanted):
        raise LinkageError(
            f"{matched}: names {len(wanted) - payload.num_rows} serials that {held} lacks: "
            "the matched file belongs to another prepare run")
    path = out_dir / f"{holder_id}.payload.age"
    seal(path, payload, kind="payload", project_id=manifest.id, sender=me,
         recipient=manifest.party(spec.combiner), extra={"extracted": True})
    _tick(progress, 3)
    return ExtractReport(project=manifest.id, holder=holder_id, records=attributes.num_rows,
                         extracted=payload.num_rows, path=str(path))


def _tick(progress: Progress | None, done: int) -> None:
    if progress is not None:
        progress("extract", done, 3)


__all__ = ["check_key_version", "extract", "held_path", "matched_path", "seal_matched"]
