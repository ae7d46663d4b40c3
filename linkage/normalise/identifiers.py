"""One normaliser per identifier kind, and the normalisation of a holder's identifier columns.

An invalid identifier never aborts a run: it becomes null (so the record gets no key for the
recipes that need it) and is counted, so that the prepare report can say how many were lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.address import (
    normalise_address,
    normalise_postcode,
    normalise_postcode_any,
)
from linkage.normalise.dates import normalise_dob
from linkage.normalise.name import normalise_name
from linkage.normalise.phone import normalise_phone
from linkage.normalise.rrn import normalise_rrn, rrn_birth_date, rrn_details, rrn_sex
from linkage.normalise.sex import normalise_sex
from linkage.normalise.shapes import value_shapes
from linkage.normalise.text import as_text, is_blank, normalise_ci, normalise_id, normalise_text

Normaliser = Callable[[pa.Array | pa.ChunkedArray], pa.Array]

NORMALISERS: dict[str, Normaliser] = {
    "name": normalise_name,
    "given_name": normalise_name,
    "surname": normalise_name,
    "rrn": normalise_rrn,
    "dob": normalise_dob,
    "sex": normalise_sex,
    "phone": normalise_phone,
    "address": normalise_address,
    "postcode": normalise_postcode,
    "postcode_any": normalise_postcode_any,
    "ci": normalise_ci,
    "text": normalise_text,
    "id": normalise_id,
}
KINDS: frozenset[str] = frozenset(NORMALISERS)
#: What each kind accepts, for the error that refuses a column most of whose values it drops.
EXPECTS: dict[str, str] = {
    "name": "a person's name (letters, spaces, '-', '.' and apostrophes)",
    "given_name": "a given name (letters, spaces, '-', '.' and apostrophes)",
    "surname": "a surname (letters, spaces, '-', '.' and apostrophes)",
    "rrn": "a Korean resident registration number, 999999-9999999 with a valid check digit",
    "dob": "a past date such as 1990-02-02, 1990.2.2 or 19900202",
    "sex": "M/F, 남/여, 1/2 or male/female",
    "phone": "a Korean phone number such as 010-1234-5678, or another country's with its "
             "+ and country code",
    "address": "any address text",
    "postcode": "a Korean postcode: five digits (99999) or the old six (999-999); "
                "for other countries use kind 'postcode_any'",
    "postcode_any": "3 to 10 letters and digits with at least one digit, any country",
    "ci": "connecting information (88-character base64)",
    "text": "any text",
    "id": "any text (an opaque identifier)",
}
# Kinds an RRN carries, filled from it where a record lacks them.
FROM_RRN: dict[str, Normaliser] = {"dob": rrn_birth_date, "sex": rrn_sex}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"unknown identifier kind {kind!r} (known kinds: {known})")


def normalise_column(kind: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The normalised strings of one column: same length, null where missing or invalid.

    >>> normalise_column("phone", pa.array(["+82 10-1234-5678", None, "12"])).to_pylist()
    ['01012345678', None, None]
    >>> normalise_column("shoe_size", pa.array(["42"]))
    Traceback (most recent call last):
    ValueError: unknown identifier kind 'shoe_size' (known kinds: ...)
    """
    _check_kind(kind)
    return NORMALISERS[kind](values)


def is_invalid(
    kind: str, raw: pa.Array | pa.ChunkedArray, normalised: pa.Array | pa.ChunkedArray
) -> pa.Array:
    """True where a value was given (not null, not blank) but did not normalise; never null.

    >>> raw = pa.array(["010-1234-5678", "12", "  ", None])
    >>> is_invalid("phone", raw, normalise_column("phone", raw)).to_pylist()
    [False, True, False, False]
    """
    _check_kind(kind)
    if len(raw) != len(normalised):
        raise ValueError(f"{kind}: {len(raw)} raw values but {len(normalised)} normalised")
    return pc.and_(pc.invert(is_blank(raw)), pc.is_null(normalised))


def _count(mask: pa.Array) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _invalid_count(raw: pa.Array | pa.ChunkedArray, normalised: pa.Array) -> int:
    """How many values :func:`is_invalid` flags, looking only at the rows that came out null."""
    return len(_invalid_values(raw, normalised))


def _invalid_values(raw: pa.Array | pa.ChunkedArray, normalised: pa.Array) -> pa.Array:
    """The raw values :func:`is_invalid` flags, looking only at the rows that came out null."""
    lost = pc.is_null(normalised)
    if not pc.any(lost).as_py():
        return pa.array([], pa.string())
    dropped = as_text(pc.filter(raw, lost))
    return pc.filter(dropped, pc.invert(is_blank(dropped)))


#: Invalid values an error may describe (by shape only, see ``shapes``).
EXAMPLES = 2


def _example_shapes(invalid: pa.Array) -> list[str]:
    """Up to :data:`EXAMPLES` distinct shapes of invalid values, never the values."""
    shapes: list[str] = []
    for shape in value_shapes(invalid.slice(0, 64)).to_pylist():
        if shape not in shapes:
            shapes.append(shape)
        if len(shapes) == EXAMPLES:
            break
    return shapes


@dataclass
class NormalisedIdentifiers:
    """A holder's identifiers, one string column per kind, with what normalising cost and gave.

    ``invalid_counts``: per kind, values present but invalid (now null). ``derived``: per kind,
    values that were missing or invalid and were filled from the RRN (``dob``, ``sex``).
    ``present`` and ``examples`` let ``prepare`` refuse a column it would mostly throw away.
    """

    values: pa.Table
    invalid_counts: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    #: Per kind, values given at all (valid or invalid): the base of the invalid share.
    present: dict[str, int] = field(default_factory=dict)
    #: Per kind, up to two shapes of invalid values (``9999``), for an error message.
    examples: dict[str, list[str]] = field(default_factory=dict)


def _kinds_by_column(table: pa.Table, identifiers: Mapping[str, str]) -> dict[str, str]:
    """kind -> source column, after checking the mapping is one a run can use."""
    by_kind: dict[str, str] = {}
    for column, kind in identifiers.items():
        if kind not in KINDS:
            known = ", ".join(sorted(KINDS))
            raise ValueError(
                f"column {column!r}: unknown identifier kind {kind!r} (known kinds: {known})"
            )
        if column not in table.column_names:
            raise ValueError(f"identifier column {column!r} ({kind}) is not in the input")
        if kind in by_kind:
            raise ValueError(
                f"columns {by_kind[kind]!r} and {column!r} are both of kind {kind!r}; "
                "a holder has at most one column per identifier kind"
            )
        by_kind[kind] = column
    return by_kind


def normalise_identifiers(
    table: pa.Table, identifiers: Mapping[str, str], *, strict_check_digit: bool = True
) -> NormalisedIdentifiers:
    """Normalise every identifier column named in ``identifiers`` (source column -> kind).

    With an ``rrn`` column, ``dob`` and ``sex`` are filled from the RRN wherever they are missing
    or invalid (and added as columns if the table has none), and a two-digit year in ``dob``
    takes its century from the RRN. ``strict_check_digit`` is passed to the RRN normaliser.

    >>> table = pa.table({"nm": ["김 철수", "John  Smith"], "jumin": ["560108-1234564", None],
    ...                   "birth": ["56.01.08", "1980/2/30"]})
    >>> result = normalise_identifiers(table, {"nm": "name", "jumin": "rrn", "birth": "dob"})
    >>> result.values.to_pydict()  # doctest: +NORMALIZE_WHITESPACE
    {'name': ['김철수', 'JOHN SMITH'], 'rrn': ['5601081234564', None],
     'dob': ['1956-01-08', None], 'sex': ['M', None]}
    >>> result.invalid_counts, result.derived
    ({'name': 0, 'rrn': 0, 'dob': 1}, {'dob': 0, 'sex': 1})
    """
    by_kind = _kinds_by_column(table, identifiers)
    columns: dict[str, pa.Array] = {}
    invalid_counts: dict[str, int] = {}
    rrn = century = None
    from_rrn: dict[str, pa.Array] = {}
    if "rrn" in by_kind:
        rrn, century, from_rrn["dob"], from_rrn["sex"] = rrn_details(
            table.column(by_kind["rrn"]), strict_check_digit=strict_check_digit)

    def one(kind: str, column: str) -> tuple[pa.Array, int, int, list[str]]:
        raw = table.column(column)
        if kind == "rrn":
            normalised = rrn
        elif kind == "dob":
            normalised = normalise_dob(raw, century=century)
        else:
            normalised = normalise_column(kind, raw)
        invalid = _invalid_values(raw, normalised)
        valid = len(normalised) - normalised.null_count
        return (normalised, len(invalid), valid + len(invalid),
                _example_shapes(invalid) if len(invalid) else [])

    # Arrow's kernels release the GIL, so the columns are normalised side by side.
    with ThreadPoolExecutor(max_workers=min(len(by_kind), os.cpu_count() or 1) or 1) as pool:
        done = dict(zip(by_kind, pool.map(one, by_kind, by_kind.values()), strict=True))
    present: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for kind, (normalised, invalid, given, shapes) in done.items():
        columns[kind] = normalised
        invalid_counts[kind] = invalid
        present[kind] = given
        if shapes:
            examples[kind] = shapes

    derived: dict[str, int] = {}
    for kind, known in from_rrn.items():
        given = columns.get(kind, pa.nulls(table.num_rows, pa.string()))
        derived[kind] = _count(pc.and_(pc.is_null(given), pc.is_valid(known)))
        columns[kind] = pc.coalesce(given, known)
    return NormalisedIdentifiers(pa.table(columns), invalid_counts, derived, present,
                                 examples)
