"""The project spec (DESIGN 5): who holds what, and which identifiers make a match.

A spec is parsed once from TOML and validated whole, so that a typo in a kind or a recipe
is reported before any key is generated, naming the spec file and the offending key.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkage.errors import LinkageError

PURPOSES = ("statistics", "scientific_research", "public_interest_archiving")
MODES = ("exact", "fuzzy")
DEFAULT_KEY_MANAGER = "keymanager"
DEFAULT_COMBINER = "agency"


def _identifier_kinds() -> tuple[str, ...]:
    from linkage.normalise import KINDS

    return tuple(sorted(KINDS))


@dataclass(frozen=True)
class HolderSpec:
    """One data holder: its identifier columns (column -> kind) and its attribute columns."""

    id: str
    identifiers: dict[str, str]
    attributes: list[str]
    record_id: str | None = None

    @property
    def kinds(self) -> set[str]:
        return set(self.identifiers.values())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "identifiers": dict(self.identifiers),
                                "attributes": list(self.attributes)}
        if self.record_id is not None:
            data["record_id"] = self.record_id
        return data


@dataclass(frozen=True)
class Recipe:
    """A match key: the identifier kinds that must all agree, in this order."""

    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        """The recipe's name, also the name of its key column.

        >>> Recipe(("name", "dob", "sex")).name
        'name+dob+sex'
        """
        return "+".join(self.fields)

    @property
    def tag(self) -> bytes:
        """Domain separation: the same values under two recipes give unrelated keys."""
        return b"pseudolink/v1/recipe/" + self.name.encode("utf-8")


@dataclass(frozen=True)
class ProjectSpec:
    id: str
    purpose: str
    mode: str
    holders: list[HolderSpec]
    recipes: list[Recipe]
    key_manager: str = DEFAULT_KEY_MANAGER
    combiner: str = DEFAULT_COMBINER
    source: str = field(default="<spec>", compare=False)
    #: The validated ``[fuzzy]`` table (only the keys given); fuzzy mode's defaults fill the rest.
    fuzzy: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, *, project_id: str | None = None,
             key_manager: str | None = None, combiner: str | None = None) -> ProjectSpec:
        """Parse and validate a spec file; keyword arguments override its ``[project]`` values."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LinkageError(f"{path}: spec file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LinkageError(f"{path}: not valid TOML: {exc}") from None
        project = data.setdefault("project", {})
        for key, value in (("id", project_id), ("key_manager", key_manager),
                           ("combiner", combiner)):
            if value is not None:
                project[key] = value
        try:
            return cls.from_dict(data, source=str(path))
        except _SpecError as exc:
            raise exc.located(path.read_text(encoding="utf-8")) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<spec>") -> ProjectSpec:
        return _parse(data, source)

    def holder(self, holder_id: str) -> HolderSpec:
        for holder in self.holders:
            if holder.id == holder_id:
                return holder
        known = ", ".join(h.id for h in self.holders)
        raise LinkageError(f"project {self.id} has no holder '{holder_id}' (holders: {known})")

    @property
    def holder_ids(self) -> list[str]:
        return [h.id for h in self.holders]

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, the shape :meth:`from_dict` and the TOML file share."""
        return {
            "project": {"id": self.id, "purpose": self.purpose, "mode": self.mode,
                        "key_manager": self.key_manager, "combiner": self.combiner},
            "holders": [h.to_dict() for h in self.holders],
            "recipes": [{"fields": list(r.fields)} for r in self.recipes],
            **({"fuzzy": dict(self.fuzzy)} if self.fuzzy else {}),
        }


class _SpecError(LinkageError):
    """A spec mistake that can name the line of the spec file it is on."""

    def __init__(self, source: str, key: str, problem: str, *, column: str | None = None,
                 value: str | None = None) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem
        self.column, self.value = column, value

    def located(self, text: str) -> LinkageError:
        """The same error, naming the line (and identifier column) in the spec file."""
        if self.value is None:
            return self
        for number, line in enumerate(text.splitlines(), start=1):
            quoted = f'"{self.value}"' in line or f"'{self.value}'" in line
            if quoted and (self.column is None or self.column in line):
                where = f"{self.source}, line {number}"
                if self.column is not None:
                    where += f", column '{self.column}'"
                return LinkageError(f"{where}: {self.key}: {self.problem}")
        return self


def _parse(data: dict[str, Any], source: str) -> ProjectSpec:
    def bad(key: str, problem: str, *, column: str | None = None,
            value: str | None = None) -> LinkageError:
        return _SpecError(source, key, problem, column=column, value=value)

    project = data.get("project")
    if not isinstance(project, dict):
        raise bad("[project]", "missing table")
    project_id = project.get("id")
    if not isinstance(project_id, str) or not project_id.strip():
        raise bad("project.id", "must be a non-empty string")
    if not all(ch.isalnum() or ch in "-_." for ch in project_id) or project_id.startswith("."):
        raise bad("project.id", f"'{project_id}' may use only letters, digits, '-', '_' and '.'")
    purpose = project.get("purpose")
    if purpose not in PURPOSES:
        raise bad("project.purpose", f"'{purpose}' is not one of {', '.join(PURPOSES)}")
    mode = project.get("mode", "exact")
    if mode not in MODES:
        raise bad("project.mode", f"'{mode}' is not one of {', '.join(MODES)}")
    key_manager = project.get("key_manager", DEFAULT_KEY_MANAGER)
    combiner = project.get("combiner", DEFAULT_COMBINER)

    kinds = _identifier_kinds()
    holders: list[HolderSpec] = []
    raw_holders = data.get("holders")
    if not isinstance(raw_holders, list) or len(raw_holders) < 2:
        raise bad("[[holders]]", "a project links at least two holders")
    for index, raw in enumerate(raw_holders):
        where = f"holders[{index}]"
        holder_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(holder_id, str) or not holder_id:
            raise bad(f"{where}.id", "must be a non-empty string")
        where = f"holders[{index}] ({holder_id})"
        if any(h.id == holder_id for h in holders):
            raise bad(f"{where}.id", f"duplicate holder id '{holder_id}'")
        if holder_id in (key_manager, combiner):
            raise bad(f"{where}.id", "a holder cannot also be the key manager or combiner")
        identifiers = raw.get("identifiers")
        if not isinstance(identifiers, dict) or not identifiers:
            raise bad(f"{where}.identifiers", "must map at least one column to a kind")
        for column, kind in identifiers.items():
            if list(identifiers.values()).count(kind) > 1:
                raise bad(f"{where}.identifiers.{column}",
                          f"kind '{kind}' is given to more than one column")
            if kind not in kinds:
                raise bad(f"{where}.identifiers.{column}",
                          f"unknown identifier kind '{kind}' (kinds: {', '.join(kinds)})",
                          column=column, value=str(kind))
        attributes = raw.get("attributes", [])
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise bad(f"{where}.attributes", "must be a list of column names")
        if len(set(attributes)) != len(attributes):
            raise bad(f"{where}.attributes", "lists a column twice")
        # An identifier column must never travel with the attributes to the combiner.
        leaked = sorted(set(attributes) & set(identifiers))
        if leaked:
            raise bad(f"{where}.attributes", f"identifier columns {leaked} cannot be attributes")
        record_id = raw.get("record_id")
        if record_id is not None and not isinstance(record_id, str):
            raise bad(f"{where}.record_id", "must be a column name")
        holders.append(HolderSpec(holder_id, dict(identifiers), list(attributes), record_id))

    recipes: list[Recipe] = []
    raw_recipes = data.get("recipes")
    # No ignored settings (issue 20): each mode refuses what only the other one reads.
    if mode == "fuzzy":
        if raw_recipes:
            raise bad("[[recipes]]", "fuzzy mode does not use recipes: it compares the "
                      "identifier kinds in [fuzzy] fields (by default every kind all holders "
                      "supply) and finds candidate pairs with [fuzzy] blocking rules; remove "
                      "[[recipes]] or set mode = \"exact\"")
        raw_recipes = []
    elif "fuzzy" in data:
        raise bad("[fuzzy]", "exact mode does not use it (it matches on [[recipes]]); remove "
                  "it or set mode = \"fuzzy\"")
    elif not isinstance(raw_recipes, list) or not raw_recipes:
        raise bad("[[recipes]]", "at least one recipe is needed")
    for index, raw in enumerate(raw_recipes):
        where = f"recipes[{index}].fields"
        fields = raw.get("fields") if isinstance(raw, dict) else None
        if not isinstance(fields, list) or not fields:
            raise bad(where, "must be a non-empty list of identifier kinds")
        for kind in fields:
            if kind not in kinds:
                raise bad(where, f"unknown identifier kind '{kind}' (kinds: "
                          f"{', '.join(kinds)})", value=str(kind))
            if not any(_can_supply(h, kind) for h in holders):
                raise bad(where, f"no holder has an identifier of kind '{kind}'")
        recipe = Recipe(tuple(fields))
        if recipe in recipes:
            raise bad(where, f"recipe {recipe.name} is listed twice")
        recipes.append(recipe)
    fuzzy = _parse_fuzzy(data.get("fuzzy", {}), bad, kinds)
    for kind in fuzzy.get("fields", []):
        lacking = [h.id for h in holders if not _can_supply(h, kind)]
        if lacking:
            raise bad("fuzzy.fields", f"holder '{lacking[0]}' has no identifier of kind "
                      f"'{kind}' (a compared kind must come from every holder)",
                      value=kind)
    return ProjectSpec(project_id, purpose, mode, holders, recipes, key_manager, combiner,
                       source, fuzzy)


FUZZY_HARDENINGS = ("fixed_weight", "xor_fold", "none")
#: Derived parts of a blocking rule or salt: ``dob~year``, ``name~initial``, ``rrn~tail``.
FUZZY_DERIVED = ("year", "initial", "first", "tail")
#: one_to_one: a record links to at most one record of the other holder. many_to_one: a
#: record of the second holder (in spec order) links to at most one of the first holder's,
#: which may link to several (the second register holds duplicates of the same person).
FUZZY_CARDINALITIES = ("one_to_one", "many_to_one")


def _parse_fuzzy(raw: Any, bad, kinds: tuple[str, ...]) -> dict[str, Any]:
    """Validate the ``[fuzzy]`` table; every key is optional.

    ``fields`` (the kinds compared; default every kind all holders supply),
    ``salts`` (list of parts, ``[]`` for none), ``hardening``, ``q`` (2 or 3),
    ``levels`` (Dice cut points, descending in (0, 1]), ``target_precision``,
    ``min_probability``, ``max_block_pairs``, ``cardinality`` (one_to_one or many_to_one),
    ``blocking`` (list of rules, each a list of parts or a "part+part" string).
    """
    if not isinstance(raw, dict):
        raise bad("[fuzzy]", "must be a table")

    def part(key: str, value: Any) -> str:
        kind, _, derived = str(value).partition("~")
        if not isinstance(value, str) or kind not in kinds:
            raise bad(key, f"'{value}' is not an identifier kind (kinds: {', '.join(kinds)})",
                      value=str(value))
        if derived and derived not in FUZZY_DERIVED:
            raise bad(key, f"'{value}': unknown derived part '~{derived}' (use "
                      f"{', '.join('~' + d for d in FUZZY_DERIVED)})", value=str(value))
        return value

    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"fuzzy.{key}"
        if key == "salts":
            if not isinstance(value, list):
                raise bad(where, 'must be a list such as ["dob~year"] ([] for no salt)')
            out[key] = [part(where, v) for v in value]
        elif key == "hardening":
            if value not in FUZZY_HARDENINGS:
                raise bad(where, f"'{value}' is not one of {', '.join(FUZZY_HARDENINGS)}",
                          value=str(value))
            out[key] = value
        elif key == "q":
            if value not in (2, 3) or isinstance(value, bool):
                raise bad(where, f"q-grams of size {value!r}: use 2 or 3")
            out[key] = value
        elif key == "levels":
            ok = (isinstance(value, list) and value
                  and all(isinstance(v, (int, float)) and 0 < v <= 1 for v in value)
                  and all(a > b for a, b in itertools.pairwise(value)))
            if not ok:
                raise bad(where, "must be Dice cut points in (0, 1], strictly descending")
            out[key] = [float(v) for v in value]
        elif key in ("target_precision", "min_probability"):
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not 0 < value < 1:
                raise bad(where, f"{value!r} is not a probability strictly between 0 and 1")
            out[key] = float(value)
        elif key == "cardinality":
            if value not in FUZZY_CARDINALITIES:
                raise bad(where, f"{value!r} is not one of {', '.join(FUZZY_CARDINALITIES)}",
                          value=str(value))
            out[key] = value
        elif key == "max_block_pairs":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(where, f"{value!r} is not a positive whole number")
            out[key] = value
        elif key == "fields":
            if not isinstance(value, list) or not value or len(set(value)) != len(value) \
                    or not all(isinstance(v, str) and "~" not in v for v in value):
                raise bad(where, 'must list identifier kinds once each, such as ["name", '
                          '"dob", "postcode"]')
            out[key] = [part(where, v) for v in value]
        elif key == "blocking":
            if not isinstance(value, list) or not value:
                raise bad(where, 'must be a non-empty list of rules such as ["dob", '
                          '"name~initial"] or "dob+name~initial"')
            rules = []
            for index, rule in enumerate(value):
                parts = rule.split("+") if isinstance(rule, str) else rule
                if not isinstance(parts, list) or not parts:
                    raise bad(f"{where}[{index}]", "a rule is a list of parts or a "
                              '"part+part" string')
                rules.append([part(f"{where}[{index}]", p) for p in parts])
            out[key] = rules
        else:
            raise bad(where, "unknown key (keys: fields, salts, hardening, q, levels, "
                      "target_precision, min_probability, max_block_pairs, blocking)")
    return out


def _can_supply(holder: HolderSpec, kind: str) -> bool:
    """dob and sex are derived from an RRN where a holder has no column for them."""
    return kind in holder.kinds or (kind in ("dob", "sex") and "rrn" in holder.kinds)
