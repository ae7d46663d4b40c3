"""Stage 2, at the key manager: match linkage keys across holders, emit the link map.

The key manager opens only keys files (serials and keys); it never receives attributes and
cannot open the project key, so it cannot test a guessed identifier against a key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

from linkage.engines import Engine, start_engine
from linkage.envelope import PendingSecret, open_envelopes_to, seal_file
from linkage.errors import LinkageError
from linkage.extract import check_key_version
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.reports import HolderRecipeStats, LinkReport, write_report
from linkage.scratch import private_dir

Progress = Callable[[str, int, int | None], None]
LINKMAP_NAME = "linkmap.age"
REPORT_NAME = "link-report.json"


def link_exact(project: ProjectManifest | str | Path, keys_files: Sequence[str | Path],
               out_dir: str | Path, keys_dir: str | Path, passphrase: str, *,
               as_party: str | None = None, engine: str | Engine = "duckdb",
               precheck: bool = False, progress: Progress | None = None,
               review_band: tuple[float, float] | None = None,
               decisions: Sequence[str | Path] = ()) -> LinkReport:
    """Link the holders' exact keys files (``linkage.link`` picks the mode's strategy);
    ``precheck`` reports match rates and writes no link map.

    ``as_party`` is the key manager's party id (default: the spec's key manager).
    ``review_band`` and ``decisions`` (clerical review) exist in fuzzy mode only.
    """
    manifest = as_manifest(project)
    if review_band is not None or decisions:
        raise LinkageError("clerical review (--review-band, --decisions) needs probabilities: "
                           "it exists in fuzzy mode only; exact mode links identical keys")
    manifest.require_open()
    spec = manifest.spec
    # The keys unlock (scrypt) while the workers check the keys files' ciphertexts.
    me = PendingSecret(manifest.role_party("key_manager", as_party),
                       lambda: manifest.unlock_as("key_manager", as_party, keys_dir,
                                                  passphrase))
    out_dir = Path(out_dir)
    recipes = [r.name for r in spec.recipes]
    total = len(keys_files) + 2

    with private_dir("link") as scratch:
        files: dict[str, Path] = {}
        with ThreadPoolExecutor(max_workers=1) as side:
            # The engine loads (DuckDB's imports) and starts (Spark's executors) while the
            # files are checked and opened: side by side in worker processes where they are
            # large (pyrage holds the GIL), the keys unlocking meanwhile.
            loading = side.submit(start_engine, engine)
            opened = open_envelopes_to(
                [(path, "keys", spec.holder_ids, Path(scratch) / f"keys-{done}.parquet")
                 for done, path in enumerate(keys_files, start=1)], me, manifest)
            compute = loading.result()
        for done, (path, (sealed, data)) in enumerate(zip(keys_files, opened, strict=True),
                                                      start=1):
            sender = sealed["sender"]
            if sender in files:
                raise LinkageError(f"{path}: a second keys file from holder '{sender}'")
            names = pq.read_schema(data).names
            missing = [c for c in ["serial", *recipes] if c not in names]
            if missing:
                raise LinkageError(f"{path}: lacks key columns {missing} of project "
                                   f"{manifest.id}")
            check_key_version(path, sealed, manifest)
            files[sender] = data
            _tick(progress, total, done)
        # Spec order, whatever order the files were given in: reports read the same every time.
        files = {h: files[h] for h in spec.holder_ids if h in files}
        if len(files) < 2:
            raise LinkageError("linking needs the keys files of at least two holders; got "
                               f"{', '.join(files) or 'none'}")
        counts = {h: _key_counts(p, recipes) for h, p in files.items()}
        # Matching scans the files from disk, so link's memory does not grow with them. The
        # engine writes the link map where it matched (on a cluster the members never come
        # to this process); it is sealed from that file, streaming.
        plain = None if precheck else Path(scratch) / "linkmap.parquet"
        result = compute.link_files(files, recipes, plain)
        _tick(progress, total, len(keys_files) + 1)
        report = _report(manifest.id, precheck, counts, recipes, result)
        out_dir.mkdir(parents=True, exist_ok=True)
        if plain is not None:
            linkmap_path = out_dir / LINKMAP_NAME
            seal_file(linkmap_path, plain, kind="linkmap", project=manifest, sender=me.get(),
                      recipient=manifest.party(spec.combiner),
                      extra={"key_version": manifest.key_version},
                      data_sha256=result.linkmap_sha256)
            # Nothing goes back to the holders: telling one which of its records matched
            # would tell it who is in the other holders' registers (DESIGN 10).
            report.outputs["linkmap"] = str(linkmap_path)
    report_path = out_dir / REPORT_NAME
    report.outputs["report"] = str(report_path)
    write_report(report_path, report.to_dict())
    _tick(progress, total, total)
    return report


def _key_counts(path: Path, recipes: list[str]) -> dict[str, int]:
    """Records, and records with a key per recipe: from the Parquet statistics where every
    row group has them (no pass over the keys), else read a batch at a time."""
    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    counts = dict.fromkeys(recipes, 0)
    where = {name: i for i, name in enumerate(parquet.schema_arrow.names)}
    try:
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for recipe in recipes:
                stats = row_group.column(where[recipe]).statistics
                if stats is None or not stats.has_null_count:
                    raise LookupError(recipe)
                counts[recipe] += row_group.num_rows - stats.null_count
    except LookupError:
        counts = dict.fromkeys(recipes, 0)
        for batch in parquet.iter_batches(columns=recipes):
            for recipe in recipes:
                column = batch.column(recipe)
                counts[recipe] += len(column) - column.null_count
    return {"": meta.num_rows, **counts}


def _report(project_id: str, precheck: bool, counts: dict[str, dict[str, int]],
            recipes: list[str], result) -> LinkReport:
    """``counts[holder]`` holds the holder's records under ``""`` and keys per recipe."""
    summary = result.summary
    linked = summary.linked

    holders: dict[str, dict[str, HolderRecipeStats]] = {}
    for holder, count in counts.items():
        holders[holder] = {}
        for recipe in recipes:
            dup_records, dup_keys = result.duplicates.get(holder, {}).get(recipe, (0, 0))
            holders[holder][recipe] = HolderRecipeStats(
                records=count[""],
                keys=count[recipe],
                links=linked.get((holder, recipe), 0),
                shared=result.shared.get(holder, {}).get(recipe, 0),
                duplicate_records=dup_records, duplicate_keys=dup_keys,
            )
    return LinkReport(
        project=project_id, precheck=precheck, links=summary.clusters,
        links_per_recipe=summary.formed,
        linked_records={h: sum(s.links for s in r.values()) for h, r in holders.items()},
        duplicates=sum(s.duplicate_records for r in holders.values() for s in r.values()),
        conflicts=sum(sum(c.values()) for c in result.conflicts.values()),
        holders=holders, conflicts_per_recipe=result.conflicts,
        records={h: c[""] for h, c in counts.items()},
    )


def _tick(progress: Progress | None, total: int, done: int) -> None:
    if progress is not None:
        progress("link", done, total)


__all__ = ["LINKMAP_NAME", "REPORT_NAME", "link_exact"]
