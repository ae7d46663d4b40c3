"""The interface every compute engine offers to prepare, link and combine.

The pipeline (envelopes, reports, checks) is engine-independent; an engine only does the
column-wide work: hashing, matching keys, joining payloads. The same tests run against
each engine, and both must give the same clusters and combined rows on the same input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from linkage.spec import Recipe

#: Columns of :attr:`MatchResult.members`.
MEMBER_COLUMNS = ("cluster", "holder", "serial", "recipe")


@dataclass
class MatchResult:
    """Clusters found by :meth:`Engine.match`, and what stopped other records linking.

    ``members`` has one row per linked record: ``cluster`` (int64, arbitrary numbering),
    ``holder``, ``serial`` and ``recipe`` (the name of the recipe it linked on).
    ``duplicates[holder][recipe]`` is ``(records, keys)``: keys held by more than one record
    of the same holder, never used to link. ``conflicts[recipe][reason]`` counts records
    left unlinked because linking them would have joined more than one record of a holder.
    ``shared[holder][recipe]`` counts records whose key some other holder also has, whatever
    the recipe order: the precheck's match rate.
    """

    members: pa.Table
    duplicates: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    conflicts: dict[str, dict[str, int]] = field(default_factory=dict)
    shared: dict[str, dict[str, int]] = field(default_factory=dict)


class Engine(ABC):
    name: str

    @abstractmethod
    def linkage_keys(self, values: pa.Table, project_key: bytes,
                     recipes: Sequence[Recipe]) -> pa.Table:
        """One 32-byte binary column per recipe (named ``recipe.name``), row-aligned with
        ``values`` (one string column per identifier kind); null where a field is null."""

    @abstractmethod
    def match(self, keys: Mapping[str, pa.Table], recipes: Sequence[str]) -> MatchResult:
        """Link records across holders on the recipes' key columns, tried in order.

        ``keys`` maps each holder to its table of ``serial`` plus one column per recipe.
        A record links on the first recipe whose key another holder's record shares; a
        linked record is never re-linked; a key duplicated within a holder links nothing.
        """

    def match_files(self, keys: Mapping[str, Path], recipes: Sequence[str]) -> MatchResult:
        """:meth:`match` over Parquet files on disk; engines that can scan files override
        this so that link's memory does not grow with the holders' files."""
        return self.match({h: pq.read_table(p) for h, p in keys.items()}, recipes)

    @abstractmethod
    def combine(self, linkmap: pa.Table, payloads: Mapping[str, pa.Table]) -> pa.Table:
        """One row per ``link_id`` (sorted), then each holder's attributes as
        ``{holder}__{column}``, holders in the mapping's order; null where a cluster has
        no record of that holder. Payloads hold ``serial`` plus attribute columns."""
