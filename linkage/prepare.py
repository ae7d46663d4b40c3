"""Stage 1, at each holder: normalise, hash, and split a file into keys and attributes.

The keys half (serial + one linkage key per recipe) goes to the key manager, the attributes
half (serial + attributes) to the combiner, each sealed to its recipient. Only the holder
keeps the crosswalk from its own records to the serials.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkage.engines import get_engine
from linkage.envelope import seal
from linkage.errors import LinkageError
from linkage.files import write_with
from linkage.inputs import as_text, detect_encoding, read_input, require_columns
from linkage.keys.party import load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest, load_project_key
from linkage.reports import PrepareReport, write_report
from linkage.serials import random_hex

Progress = Callable[[str, int, int | None], None]
#: A column with this name is the holder's record id when the spec names none.
RECORD_ID_COLUMN = "record_id"


def output_paths(out_dir: Path, holder_id: str) -> dict[str, Path]:
    return {
        "keys": out_dir / f"{holder_id}.keys.age",
        "payload": out_dir / f"{holder_id}.payload.age",
        "crosswalk": out_dir / f"{holder_id}.crosswalk.parquet",
        "report": out_dir / f"{holder_id}.prepare.json",
    }


def prepare(project: ProjectManifest | str | Path, holder_id: str, input_path: str | Path,
            out_dir: str | Path, keys_dir: str | Path, passphrase: str, *,
            encoding: str | None = None, engine: str = "duckdb",
            progress: Progress | None = None) -> PrepareReport:
    """Prepare one holder's file; see the module docstring for what is written where."""
    from linkage.normalise import normalise_identifiers

    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    holder = spec.holder(holder_id)
    input_path, out_dir = Path(input_path), Path(out_dir)
    stage = f"prepare {holder_id}"
    step = _stepper(progress, stage, 5)

    holder_keys = load_party_secret(keys_dir, holder_id, passphrase)
    if holder_keys.public != manifest.party(holder_id):
        raise LinkageError(f"the keys of '{holder_id}' in {keys_dir} are not the ones "
                           f"registered in project {manifest.id}")
    project_key = load_project_key(keys_dir, manifest, holder_keys)
    compute = get_engine(engine)

    used_encoding = None
    if input_path.suffix.lower() != ".parquet":
        used_encoding = encoding or (detect_encoding(input_path) if input_path.exists()
                                     and input_path.stat().st_size else None)
    table = read_input(input_path, encoding=used_encoding)
    record_id = holder.record_id or (RECORD_ID_COLUMN if RECORD_ID_COLUMN in
                                     table.column_names else None)
    needed = [*holder.identifiers, *holder.attributes, *([record_id] if record_id else [])]
    require_columns(input_path, table, needed, holder_id)
    step(1)

    try:
        normalised = normalise_identifiers(as_text(table, list(holder.identifiers)),
                                           holder.identifiers)
    except ValueError as exc:
        raise LinkageError(f"{input_path}: {exc}") from None
    values = _with_all_kinds(normalised.values, spec.recipes)
    step(2)

    serials = random_hex(table.num_rows)
    keys = compute.linkage_keys(values, project_key, spec.recipes)
    del project_key
    keys_table = pa.table([serials, *keys.columns], names=["serial", *keys.column_names])
    step(3)

    payload = pa.table([serials, *(table.column(a) for a in holder.attributes)],
                       names=["serial", *holder.attributes])
    row_numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
    crosswalk = pa.table({
        "row_number": row_numbers,
        "record_id": (table.column(record_id).cast(pa.string()) if record_id
                      else row_numbers.cast(pa.string())),
        "serial": serials,
    })

    paths = output_paths(out_dir, holder_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    seal(paths["keys"], keys_table, kind="keys", project_id=manifest.id, sender=holder_keys,
         recipient=manifest.party(spec.key_manager), extra={"recipes": keys.column_names})
    seal(paths["payload"], payload, kind="payload", project_id=manifest.id,
         sender=holder_keys, recipient=manifest.party(spec.combiner))
    write_with(paths["crosswalk"], lambda tmp: pq.write_table(crosswalk, tmp))
    step(4)

    with_key = {name: keys.num_rows - keys.column(name).null_count
                for name in keys.column_names}
    report = PrepareReport(
        project=manifest.id, holder=holder_id, records=table.num_rows,
        keys_per_recipe=with_key,
        invalid={k: int(v) for k, v in normalised.invalid_counts.items()},
        derived={k: int(v) for k, v in normalised.derived.items()},
        missing_per_recipe={n: table.num_rows - c for n, c in with_key.items()},
        encoding=used_encoding,
        outputs={k: str(p) for k, p in paths.items()},
    )
    write_report(paths["report"], report.to_dict())
    step(5)
    return report


def _with_all_kinds(values: pa.Table, recipes) -> pa.Table:
    """Give every kind a recipe uses a column, all null where this holder lacks the kind."""
    for recipe in recipes:
        for kind in recipe.fields:
            if kind not in values.column_names:
                values = values.append_column(kind, pa.nulls(values.num_rows, pa.string()))
    return values


def _stepper(progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    def step(done: int) -> None:
        if progress is not None:
            progress(stage, done, total)
    return step


__all__ = ["output_paths", "prepare"]
