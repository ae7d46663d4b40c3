"""What fuzzy mode encodes, how it blocks and how it decides: one set of defaults per kind.

Both holders must encode with identical parameters, and the project spec carries none of
them, so they are derived from the spec alone (the kinds every holder can supply) and a
digest of them travels in each keys file; the key manager refuses files whose digests differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from linkage.spec import ProjectSpec

HARDENINGS = ("balance", "xor_fold", "none")
#: A derived blocking part: ``kind~year`` is the birth year of a dob, ``kind~initial`` the
#: first letter (for Hangul, the first jamo) of a name.
DERIVED = ("year", "initial")


@dataclass(frozen=True)
class FieldEncoding:
    """How one identifier kind becomes a Bloom filter.

    ``hashes`` (k, bits set per gram) is the field's weight in the filter: more hashes make
    each gram count for more bits. ``salt`` names a record attribute mixed into every
    gram's hash (see docs/linkage-fuzzy.md); ``positional`` keeps each gram's place.
    """

    kind: str
    bits: int
    hashes: int
    positional: bool = False
    jamo: bool = False
    salt: str | None = None

    @property
    def tag(self) -> bytes:
        return b"pseudolink/v1/bloom/" + self.kind.encode("utf-8")


NAME_SALT = "birth_year"
ENCODINGS: dict[str, FieldEncoding] = {
    "name": FieldEncoding("name", 256, 8, jamo=True, salt=NAME_SALT),
    "given_name": FieldEncoding("given_name", 256, 8, jamo=True, salt=NAME_SALT),
    "surname": FieldEncoding("surname", 256, 8, jamo=True, salt=NAME_SALT),
    "rrn": FieldEncoding("rrn", 256, 6, positional=True),
    "dob": FieldEncoding("dob", 256, 8, positional=True),
    "phone": FieldEncoding("phone", 256, 6, positional=True),
    "postcode": FieldEncoding("postcode", 128, 8, positional=True),
    "address": FieldEncoding("address", 512, 4, jamo=True),
    "text": FieldEncoding("text", 256, 6),
    "ci": FieldEncoding("ci", 512, 4),
}
#: Tried together: a pair is a candidate if it shares a key under any rule whose parts every
#: holder can supply. Each rule is selective on its own, so candidates grow near-linearly.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("rrn",), ("phone",), ("ci",), ("text",), ("address",),
    ("dob", "name~initial"), ("dob", "surname~initial"), ("dob", "given_name~initial"),
    ("name", "dob~year"), ("surname", "given_name"),
    ("surname", "dob~year"), ("given_name", "dob~year"),
    ("postcode", "surname~initial"), ("postcode", "given_name~initial"),
    ("postcode", "name~initial"),
)
#: Dice similarity cut points, highest first: level ``len(LEVELS) - i`` is "at least
#: LEVELS[i]", level 0 is below them all, -1 is missing on either side.
LEVELS = (1.0, 0.92, 0.85, 0.75, 0.65)


@dataclass(frozen=True)
class FuzzyParams:
    """Every choice fuzzy mode makes; defaults suit both Korean registers and FEBRL."""

    fields: dict[str, FieldEncoding] = field(default_factory=dict)
    blocking: tuple[tuple[str, ...], ...] = ()
    hardening: str = "balance"
    levels: tuple[float, ...] = LEVELS
    target_precision: float = 0.995
    min_probability: float = 0.5
    max_block_pairs: int = 10_000
    em_iterations: int = 200

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["blocking"] = ["+".join(rule) for rule in self.blocking]
        return data

    @property
    def digest(self) -> str:
        """What both holders must agree on (not the key manager's decision settings)."""
        shared = {"fields": {k: asdict(v) for k, v in sorted(self.fields.items())},
                  "blocking": ["+".join(r) for r in self.blocking],
                  "hardening": self.hardening}
        return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()


def supplied_kinds(spec: ProjectSpec) -> set[str]:
    """Kinds every holder can supply (dob and sex come from an RRN where missing)."""
    common: set[str] | None = None
    for holder in spec.holders:
        kinds = set(holder.kinds)
        if "rrn" in kinds:
            kinds |= {"dob", "sex"}
        common = kinds if common is None else common & kinds
    return common or set()


def params_for(spec: ProjectSpec, **overrides: Any) -> FuzzyParams:
    """The parameters of a project: its shared kinds' encodings and usable blocking rules.

    A name is salted with the birth year only when every holder has one; otherwise it is
    unsalted and the report says so.
    """
    kinds = supplied_kinds(spec)
    fields = {}
    for kind, encoding in ENCODINGS.items():
        if kind in kinds:
            if encoding.salt == NAME_SALT and "dob" not in kinds:
                encoding = replace(encoding, salt=None)
            fields[kind] = encoding
    blocking = tuple(rule for rule in BLOCKING_RULES
                     if all(part.split("~")[0] in kinds for part in rule))
    params = FuzzyParams(fields=fields, blocking=blocking)
    return replace(params, **overrides) if overrides else params
