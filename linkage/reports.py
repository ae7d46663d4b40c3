"""What each stage tells its user: counts and rates, never an identifier or a key value."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from linkage.files import write_atomic


def write_report(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    write_atomic(path, text.encode("utf-8"))


@dataclass
class PrepareReport:
    """Counts from one holder's prepare: ``keys_per_recipe`` counts records given a key."""

    project: str
    holder: str
    records: int
    keys_per_recipe: dict[str, int]
    invalid: dict[str, int]
    derived: dict[str, int]
    missing_per_recipe: dict[str, int]
    encoding: str | None
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HolderRecipeStats:
    records: int
    keys: int
    links: int
    shared: int
    duplicate_records: int
    duplicate_keys: int

    @property
    def match_rate(self) -> float:
        """Share of the holder's records whose key another holder also has."""
        return self.shared / self.records if self.records else 0.0


@dataclass
class LinkReport:
    """The key manager's account of a link run.

    ``links`` is the number of link ids (clusters); ``links_per_recipe`` how many clusters
    each recipe formed; ``duplicates`` and ``conflicts`` count records kept out of links.
    """

    project: str
    precheck: bool
    links: int
    links_per_recipe: dict[str, int]
    linked_records: dict[str, int]
    duplicates: int
    conflicts: int
    holders: dict[str, dict[str, HolderRecipeStats]]
    conflicts_per_recipe: dict[str, dict[str, int]]
    records: dict[str, int]
    outputs: dict[str, str] = field(default_factory=dict)

    def match_rates(self) -> dict[str, dict[str, float]]:
        return {h: {r: s.match_rate for r, s in recipes.items()}
                for h, recipes in self.holders.items()}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for holder, recipes in self.holders.items():
            for recipe, stats in recipes.items():
                data["holders"][holder][recipe]["match_rate"] = round(stats.match_rate, 6)
        return data


@dataclass
class CombineReport:
    project: str
    rows: int
    columns: list[str]
    records_per_holder: dict[str, int]
    path: str
    #: Payload rows per holder that linked to nothing: counted, dropped, never written.
    discarded_per_holder: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExtractReport:
    """A holder's pseudonymised extraction: of ``records`` prepared, ``extracted`` linked."""

    project: str
    holder: str
    records: int
    extracted: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
