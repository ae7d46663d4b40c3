"""What fuzzy mode encodes, how it blocks and how it decides: one set of defaults per kind.

Both holders must encode with identical parameters, so they are derived from the spec alone:
the kinds every holder can supply, and the spec's optional ``[fuzzy]`` table over these
defaults. A digest of them travels in each keys file; the key manager refuses files whose
digests differ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from linkage.spec import FUZZY_DERIVED, FUZZY_HARDENINGS, ProjectSpec

HARDENINGS = FUZZY_HARDENINGS
#: Derived blocking parts: ``kind~year`` is the birth year of a dob, ``kind~initial`` the
#: first letter (for Hangul, the first jamo) of a value, ``kind~first`` its first character
#: (for a Korean name, the surname syllable), ``kind~tail`` its last seven characters (for an
#: RRN, the sex digit and serial).
DERIVED = FUZZY_DERIVED


@dataclass(frozen=True)
class FieldEncoding:
    """How one identifier kind becomes Bloom filters.

    ``hashes`` (k, bits set per gram) is the field's weight in the filter: more hashes make
    each gram count for more bits. ``salts`` name record attributes (blocking parts such as
    ``dob~year``) mixed into every gram's hash: the field gets one filter per salt, and a
    pair compares on the best of the filters whose salts both records have (see
    docs/linkage.md, "Fuzzy mode"). ``positional`` keeps each gram's place.
    """

    kind: str
    bits: int
    hashes: int
    positional: bool = False
    jamo: bool = False
    salts: tuple[str, ...] = ()
    q: int = 2

    @property
    def tag(self) -> bytes:
        return b"pseudolink/v1/bloom/" + self.kind.encode("utf-8")

    @property
    def columns(self) -> list[str]:
        """Keys-file columns of this field: one per salt, or one unsalted.

        >>> FieldEncoding("name", 256, 8, salts=("dob~year", "postcode")).columns
        ['bloom:name|dob~year', 'bloom:name|postcode']
        """
        base = "bloom:" + self.kind
        return [f"{base}|{salt}" for salt in self.salts] or [base]


#: Names are salted: equal names then give equal filters only within one salt value.
SALTED = ("name", "given_name", "surname")
#: Tried in order; each is used when every holder can supply it. Two independent salts let a
#: pair whose birth year was mistyped still compare its names under the postcode, and the
#: reverse for a person who moved. The street address salts them as well: a record with no
#: birth date (no RRN) still compares its name with every record at its address, so an
#: exact address alone cannot link two people who live there (issue 18).
DEFAULT_SALTS = ("dob~year", "postcode", "postcode_any", "address")
ENCODINGS: dict[str, FieldEncoding] = {
    "name": FieldEncoding("name", 256, 8, jamo=True),
    "given_name": FieldEncoding("given_name", 256, 8, jamo=True),
    "surname": FieldEncoding("surname", 256, 8, jamo=True),
    "rrn": FieldEncoding("rrn", 256, 6, positional=True),
    "dob": FieldEncoding("dob", 256, 8, positional=True),
    "phone": FieldEncoding("phone", 256, 6, positional=True),
    "postcode": FieldEncoding("postcode", 128, 8, positional=True),
    "postcode_any": FieldEncoding("postcode_any", 128, 8, positional=True),
    "address": FieldEncoding("address", 512, 4, jamo=True),
    "text": FieldEncoding("text", 256, 6),
    "ci": FieldEncoding("ci", 512, 4),
    "id": FieldEncoding("id", 256, 6, positional=True),
}
#: Tried together: a pair is a candidate if it shares a key under any rule whose parts every
#: holder can supply. Each rule is selective on its own, so candidates grow near-linearly.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("rrn",), ("phone",), ("ci",), ("id",), ("text",), ("address",),
    # An RRN mistyped in its birth-date digits gives no birth date, hence no salt for the
    # name and no dob rule; its last seven digits and the surname still meet the partner.
    ("rrn~tail", "name~first"),
    # A Korean full name blocks on its surname syllable: a first jamo such as ㄱ (김, 강,
    # 고, 권, ...) covers a third of the population, and a date shared by 27 people per
    # million makes those blocks grow with the square of the file.
    ("dob", "name~first"), ("dob", "surname~initial"), ("dob", "given_name~initial"),
    ("dob", "address~initial"),
    ("name", "dob~year"), ("surname", "given_name"),
    ("surname", "dob~year"), ("given_name", "dob~year"),
    ("name", "address~initial"), ("surname", "address~initial"),
    ("given_name", "address~initial"),
    ("postcode", "surname~initial"), ("postcode", "given_name~initial"),
    ("postcode", "name~first"),
    # A foreign postcode alone, as FEBRL's did when declared "text": on FEBRL4 it recovers
    # the last 3 of 5,000 pairs (blocking recall 0.9994 -> 1.0); blocks over
    # max_block_pairs are skipped, so a crowded postcode cannot blow up the candidates.
    ("postcode_any",),
    ("postcode_any", "surname~initial"), ("postcode_any", "given_name~initial"),
    ("postcode_any", "name~first"),
)
#: Similarity cut points, highest first, on Dice rescaled so that random pairs sit at 0 and
#: identity at 1 (see ``scoring.similarity_levels``): level ``len(LEVELS) - i`` is "at least
#: LEVELS[i]", level 0 is below them all, -1 is missing on either side. The cut at 0.6 keeps
#: a one-jamo typo of a name (mostly 0.6 and above) apart from another name that only shares
#: the surname and a jamo (mostly 0.5 to 0.6): in one level, their weight was nil (issue 18).
LEVELS = (1.0, 0.85, 0.7, 0.6, 0.5, 0.3)


@dataclass(frozen=True)
class FuzzyParams:
    """Every choice fuzzy mode makes; defaults suit both Korean registers and FEBRL."""

    fields: dict[str, FieldEncoding] = field(default_factory=dict)
    blocking: tuple[tuple[str, ...], ...] = ()
    hardening: str = "fixed_weight"
    salts: tuple[str, ...] = ()
    levels: tuple[float, ...] = LEVELS
    target_precision: float = 0.995
    min_probability: float = 0.5
    max_block_pairs: int = 10_000
    em_iterations: int = 200
    cardinality: str = "one_to_one"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["blocking"] = ["+".join(rule) for rule in self.blocking]
        return data

    @property
    def digest(self) -> str:
        """What both holders must agree on (not the key manager's decision settings)."""
        shared = {"fields": {k: asdict(v) for k, v in sorted(self.fields.items())},
                  "blocking": ["+".join(r) for r in self.blocking],
                  "hardening": self.hardening, "salts": list(self.salts)}
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


def _usable(part: str, kinds: set[str]) -> bool:
    return part.split("~")[0] in kinds


def params_for(spec: ProjectSpec, **overrides: Any) -> FuzzyParams:
    """The parameters of a project: defaults, then the spec's ``[fuzzy]`` table, then
    ``overrides``; encodings and rules keep only what every holder can supply.

    Names are salted with each of ``salts`` that every holder has (by default the birth
    year and the postcode); with none left they are unsalted and the report says so.
    """
    kinds = supplied_kinds(spec)
    table = {**spec.fuzzy, **overrides}
    salts = tuple(s for s in table.get("salts", DEFAULT_SALTS) if _usable(s, kinds))
    q = int(table.get("q", 2))
    compared = set(table.get("fields", kinds)) & kinds
    fields = {kind: replace(encoding, q=q, salts=salts if kind in SALTED else ())
              for kind, encoding in ENCODINGS.items() if kind in compared}
    rules = table.get("blocking", BLOCKING_RULES)
    blocking = tuple(tuple(rule) for rule in rules if all(_usable(p, kinds) for p in rule))
    settings = {k: table[k] for k in ("hardening", "target_precision", "min_probability",
                                      "max_block_pairs", "em_iterations", "cardinality")
                if k in table}
    if "levels" in table:
        settings["levels"] = tuple(table["levels"])
    return FuzzyParams(fields=fields, blocking=blocking, salts=salts, **settings)
