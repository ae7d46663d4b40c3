"""Stage 1 in fuzzy mode, at each holder: Bloom-filter encodings and blocking keys.

The keys half holds, per record, a serial, one keyed Bloom filter per shared identifier kind
and one keyed blocking key per blocking rule; it goes to the key manager sealed like exact
keys. :class:`FuzzyKeys` is the mode's strategy for ``linkage.prepare.prepare_holder``, so
the payload and crosswalk are written exactly as in exact mode, batch by batch, on every
engine (on Spark, in the executors).

Every encoding is a function of its own record and the project key alone (grams are hashed
per distinct gram, whatever else is in the batch; blocking keys are per-row HMACs), so a
file keyed in batches gives the bytes it gives keyed whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from linkage.fuzzy.blocking import blocking_keys, part_values
from linkage.fuzzy.bloom import encode, to_arrow
from linkage.fuzzy.params import FuzzyParams, params_for
from linkage.keys.project import ProjectManifest
from linkage.prepare import KeysStrategy
from linkage.spec import HolderSpec, ProjectSpec

if TYPE_CHECKING:
    from linkage.engines import Engine
    from linkage.normalise import NormalisedIdentifiers


#: Records per batch in fuzzy mode: the encoder works in chunks smaller than this anyway.
FUZZY_BATCH_ROWS = 100_000


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


@dataclass(frozen=True)
class FuzzyKeys(KeysStrategy):
    """Fuzzy mode: keyed Bloom filters and blocking keys by ``params``, made with numpy and
    DuckDB in the process that holds the batch, whatever the engine."""

    params: FuzzyParams
    mode = "fuzzy"

    @classmethod
    def for_spec(cls, spec: ProjectSpec) -> FuzzyKeys:
        return cls(params_for(spec))

    def normalise(self, text: pa.Table, holder: HolderSpec) -> NormalisedIdentifiers:
        from linkage.normalise import normalise_identifiers

        # A wrong check digit is one mistyped digit, which fuzzy mode is for: the number
        # still gives its birth date (the year salts the names) and is compared digit by
        # digit. Exact mode keeps the strict check, as a key could only match the typo.
        normalised = normalise_identifiers(text, holder.identifiers, strict_check_digit=False)
        rrn_column = next((c for c, k in holder.identifiers.items() if k == "rrn"), None)
        if rrn_column is None or "rrn" not in normalised.values.column_names:
            return normalised
        return replace(normalised,
                       values=keep_mistyped_rrns(normalised.values, text.column(rrn_column)))

    def encode(self, values: pa.Table, project_key: bytes, compute: Engine) -> pa.Table:
        return encode_identifiers(values, project_key, self.params)

    def batch_rows(self, default: int) -> int:
        # A batch is encoded on one thread (exact keys are hashed on every core, Bloom
        # filters are not): small batches keep every thread busy to the file's end, where
        # 750,000 records in batches of 500,000 left one thread a third of the work alone.
        return min(default, FUZZY_BATCH_ROWS)

    def schema(self) -> pa.Schema:
        # No record and no secret: an empty table under a throwaway key gives the columns
        # and the filters' widths.
        return encode_identifiers(pa.table({}), bytes(32), self.params).schema

    def sealed_with(self, manifest: ProjectManifest) -> dict[str, Any]:
        # What the key manager's link checks: the mode, and that both holders encoded with
        # the same parameters.
        return {"mode": "fuzzy", "fuzzy_params": self.params.digest,
                "recipes": self.schema().names}
