"""Stage 1 in fuzzy mode, at each holder: Bloom-filter encodings and blocking keys.

The keys half holds, per record, a serial, one keyed Bloom filter per shared identifier kind
and one keyed blocking key per blocking rule; it goes to the key manager sealed like exact
keys. The payload and crosswalk are written exactly as in exact mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.engines import Engine
from linkage.envelope import seal
from linkage.errors import LinkageError
from linkage.field_check import (
    DEFAULT_MAX_INVALID_SHARE,
    check_accept_options,
    refuse_lost_columns,
)
from linkage.files import atomic_path
from linkage.fuzzy.blocking import blocking_keys, part_values
from linkage.fuzzy.bloom import encode, to_arrow
from linkage.fuzzy.params import FuzzyParams, params_for
from linkage.inputs import as_text, detect_encoding, read_input, require_columns
from linkage.keys.party import load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest, load_project_key
from linkage.prepare import (
    RECORD_ID_COLUMN,
    Progress,
    _stepper,
    make_private,
    output_paths,
    private_dir,
)
from linkage.reports import PrepareReport, write_report
from linkage.serials import random_hex


def encode_identifiers(values: pa.Table, project_key: bytes, params: FuzzyParams
                       ) -> pa.Table:
    """Filters and blocking keys of normalised identifiers (one column per kind)."""
    parts = [p for r in params.blocking for p in r] + list(params.salts)
    for kind in {*params.fields, *(p.split("~")[0] for p in parts)}:
        if kind not in values.column_names:
            values = values.append_column(kind, pa.nulls(values.num_rows, pa.string()))
    salts = {salt: part_values(values, salt).combine_chunks() for salt in params.salts}
    columns, names = [], []
    for kind, encoding in params.fields.items():
        column = values.column(kind).combine_chunks()
        for name, salt in zip(encoding.columns, encoding.salts or [None], strict=True):
            packed, valid = encode(column, encoding, project_key, params.hardening,
                                   None if salt is None else salts[salt], salt or "")
            columns.append(to_arrow(packed, valid))
            names.append(name)
    blocks = blocking_keys(values, project_key, params.blocking)
    return pa.table([*columns, *blocks.columns], names=[*names, *blocks.column_names])


def keep_mistyped_rrns(values: pa.Table, raw: pa.ChunkedArray | pa.Array) -> pa.Table:
    """Compare an RRN that fails its layout checks (such as its birth date) as its 13 digits.

    Exact mode must drop such a number: its key could only match the same typo. Fuzzy mode
    compares digit by digit, and a mistyped RRN still agrees with its partner on 12 of 13
    digits, which is strong evidence when name and phone are missing; dropping it loses
    pairs a plaintext linker (Splink) finds. Only the comparison uses it: the birth date
    and sex are derived from valid RRNs alone, and the value still counts as invalid.

    >>> values = pa.table({"rrn": ["5601081234564", None, None]})
    >>> raw = pa.array(["560108-1234564", "560108-1234565", "12"])
    >>> keep_mistyped_rrns(values, raw).column("rrn").to_pylist()
    ['5601081234564', '5601081234565', None]
    """
    digits = pc.replace_substring_regex(raw, r"[\s\-]", "")
    layout = pc.if_else(pc.match_substring_regex(digits, r"^[0-9]{13}$"), digits, None)
    index = values.column_names.index("rrn")
    return values.set_column(index, "rrn", pc.coalesce(values.column("rrn"), layout))


def prepare(project: ProjectManifest | str | Path, holder_id: str, input_path: str | Path,
            out_dir: str | Path, keys_dir: str | Path, passphrase: str, *,
            encoding: str | None = None, engine: str | Engine = "duckdb",
            progress: Progress | None = None, accept_invalid: Iterable[str] = (),
            max_invalid_share: float = DEFAULT_MAX_INVALID_SHARE) -> PrepareReport:
    """Prepare one holder's file for fuzzy linkage; same outputs and refusals as exact mode."""
    from linkage.normalise import normalise_identifiers

    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    holder = spec.holder(holder_id)
    accepted = check_accept_options(holder, accept_invalid, max_invalid_share)
    engine = engine if isinstance(engine, str) else engine.name
    if engine != "duckdb":
        raise LinkageError(f"fuzzy mode encodes with numpy and duckdb; engine '{engine}' "
                           "is not supported for it yet")
    params = params_for(spec)
    input_path, out_dir = Path(input_path), Path(out_dir)
    step = _stepper(progress, f"prepare {holder_id} (fuzzy)", 5)

    holder_keys = load_party_secret(keys_dir, holder_id, passphrase)
    if holder_keys.public != manifest.party(holder_id):
        raise LinkageError(f"the keys of '{holder_id}' in {keys_dir} are not the ones "
                           f"registered in project {manifest.id}")
    project_key = load_project_key(keys_dir, manifest, holder_keys)

    used_encoding = None
    if input_path.suffix.lower() != ".parquet":
        used_encoding = encoding or (detect_encoding(input_path) if input_path.exists()
                                     and input_path.stat().st_size else None)
    table = read_input(input_path, encoding=used_encoding)
    record_id = holder.record_id or (RECORD_ID_COLUMN if RECORD_ID_COLUMN in
                                     table.column_names else None)
    require_columns(input_path, table,
                    [*holder.identifiers, *holder.attributes, *([record_id] if record_id else [])],
                    holder_id)
    step(1)
    try:
        text = as_text(table, list(holder.identifiers))
        # A wrong check digit is one mistyped digit, which fuzzy mode is for: the number
        # still gives its birth date (the year salts the names) and is compared digit by
        # digit. Exact mode keeps the strict check, as a key could only match the typo.
        normalised = normalise_identifiers(text, holder.identifiers, strict_check_digit=False)
    except ValueError as exc:
        raise LinkageError(f"{input_path}: {exc}") from None
    refuse_lost_columns(input_path, holder, normalised.present, normalised.invalid_counts,
                        normalised.examples, accepted=accepted, max_share=max_invalid_share)
    step(2)

    values = normalised.values
    rrn_column = next((c for c, k in holder.identifiers.items() if k == "rrn"), None)
    if rrn_column is not None and "rrn" in values.column_names:
        values = keep_mistyped_rrns(values, text.column(rrn_column))
    serials = random_hex(table.num_rows)
    encoded = encode_identifiers(values, project_key, params)
    del project_key
    keys_table = pa.table([serials, *encoded.columns], names=["serial", *encoded.column_names])
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
    paths = output_paths(out_dir, holder_id, make_private(private_dir(keys_dir, manifest.id)))
    out_dir.mkdir(parents=True, exist_ok=True)
    seal(paths["keys"], keys_table, kind="keys", project=manifest, sender=holder_keys,
         recipient=manifest.party(spec.key_manager),
         extra={"mode": "fuzzy", "fuzzy_params": params.digest,
                "recipes": encoded.column_names})
    seal(paths["payload"], payload, kind="payload", project=manifest,
         sender=holder_keys, recipient=manifest.party(spec.combiner))
    with atomic_path(paths["crosswalk"], mode=0o600) as tmp:  # holder-only (see prepare)
        pq.write_table(crosswalk, tmp)
    step(4)

    with_key = {name: encoded.num_rows - encoded.column(name).null_count
                for name in encoded.column_names}
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
