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
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.spec import Recipe

if TYPE_CHECKING:
    from linkage.fuzzy.blocking import Candidates
    from linkage.fuzzy.bloom import Filters
    from linkage.fuzzy.link import FuzzyOutcome
    from linkage.fuzzy.params import FuzzyParams
    from linkage.prepare import PrepareJob, PrepareTotals

#: Columns of :attr:`MatchResult.members`.
MEMBER_COLUMNS = ("cluster", "holder", "serial", "recipe")
#: Why a matcher refuses a keys file: it packs each serial into its 128 bits, and only
#: 32 lower-case hex digits come back from them unchanged.
BAD_SERIAL = "column serial holds a value that is not 32 lower-case hex digits"


@dataclass
class LinkSummary:
    """What the link report says of the clusters, counted where they were formed.

    ``formed[recipe]``: clusters whose earliest member recipe is ``recipe``;
    ``linked[(holder, recipe)]``: records of ``holder`` that linked on ``recipe``.
    """

    clusters: int
    formed: dict[str, int]
    linked: dict[tuple[str, str], int]


def summarise(members: pa.Table, recipes: Sequence[str]) -> LinkSummary:
    """:class:`LinkSummary` of a members table; cluster numbers must be dense 1..n."""
    # Vectorised: at national scale a Python loop over members would cost gigabytes.
    linked = {(row["holder"], row["recipe"]): row["serial_count"] for row in
              members.group_by(["holder", "recipe"]).aggregate(
                  [("serial", "count")]).to_pylist()}
    # A cluster is formed by the earliest recipe among its members; later ones only join it.
    indexed = pa.table({"cluster": members.column("cluster"),
                        "index": pc.index_in(members.column("recipe"),
                                             value_set=pa.array(recipes, pa.string()))})
    formed_on = indexed.group_by("cluster").aggregate([("index", "min")])
    clusters = formed_on.num_rows
    if clusters and (pc.min(formed_on.column("cluster")).as_py() != 1
                     or pc.max(formed_on.column("cluster")).as_py() != clusters):
        raise AssertionError("engine returned non-dense cluster numbers")
    formed = dict.fromkeys(recipes, 0)
    for row in formed_on.group_by("index_min").aggregate([("cluster", "count")]).to_pylist():
        formed[recipes[row["index_min"]]] += row["cluster_count"]
    return LinkSummary(clusters, formed, linked)


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
    #: Filled in by :meth:`Engine.link_files`, which may leave ``members`` empty.
    summary: LinkSummary | None = None
    #: The link map file's SHA-256, where :meth:`Engine.link_files` took it as it wrote
    #: the file (sealing then needs no second read of it).
    linkmap_sha256: str | None = None


@dataclass(frozen=True)
class ReviewRequest:
    """Clerical review within one fuzzy link (:mod:`linkage.fuzzy.review`), for
    :meth:`Engine.fuzzy_link_files`: review lists and decisions name records, so the engine
    that holds the records does the work, and the caller only seals or moves the files.

    Every path is a plain Parquet file in the caller's scratch folder (on a cluster, where
    every executor can read and write).
    """

    #: (low, high): list the mutual-best pairs whose probability lies in it (ends included).
    band: tuple[float, float] | None = None
    #: With ``band``: per holder (spec order), where its listing goes: ``review_id``,
    #: ``serial``, ``probability``, real entries and decoys in random order.
    listings: Mapping[str, Path] = field(default_factory=dict)
    #: With ``band``: where the key manager's record of the entries goes (``review_id``,
    #: ``holder``, ``decoy``, ``left_serial``, ``right_serial``).
    state: Path | None = None
    #: The record of the earlier review that ``decisions`` answer.
    earlier_state: Path | None = None
    #: Per deciding holder: its decisions envelope (named in errors) and the Parquet file
    #: opened from it (``review_id``, ``decision``).
    decisions: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)


class Engine(ABC):
    name: str

    def start(self) -> Engine:
        """Make the engine ready for its first task and return it. The stages call this on
        a thread of their own while they open their inputs, so that an engine with a
        start-up cost (Spark's session, executors and their Python workers) pays it
        meanwhile; this default has nothing to start."""
        return self

    @abstractmethod
    def linkage_keys(self, values: pa.Table, project_key: bytes,
                     recipes: Sequence[Recipe]) -> pa.Table:
        """One 32-byte binary column per recipe (named ``recipe.name``), row-aligned with
        ``values`` (one string column per identifier kind); null where a field is null."""

    def prepare_file(self, job: PrepareJob) -> PrepareTotals:
        """Read ``job``'s holder file, normalise it, encode it with the job's keys strategy
        (exact linkage keys or fuzzy Bloom filters and blocking keys, both keyed through
        this engine) and write its keys, payload and crosswalk files; return the counts.
        This default works in this process, batch by batch; an engine that distributes
        overrides it so that records never pass through this process."""
        return job.run_here(self)

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

    def link_files(self, keys: Mapping[str, Path], recipes: Sequence[str],
                   linkmap: Path | None) -> MatchResult:
        """:meth:`match_files`, its :class:`LinkSummary`, and (unless ``linkmap`` is None)
        the link map written to ``linkmap``: one Parquet file of ``link_id`` (one per
        cluster, :class:`linkage.engines.link_ids.LinkIds`), ``holder``, ``serial``, ordered
        by cluster then holder, hashed as written (``linkmap_sha256``).

        This default does it in this process; an engine overrides it to keep the members
        where it matched them (Spark's executors, DuckDB's tables): it may then leave
        ``members`` empty.
        """
        from linkage.engines.link_ids import write_link_map

        result = self.match_files(keys, recipes)
        result.summary = summarise(result.members, recipes)
        if linkmap is not None:
            batches = result.members.select(["cluster", "holder", "serial"]).to_batches(
                max_chunksize=256 * 1024)
            result.linkmap_sha256 = write_link_map(
                linkmap, ((b.column(0).to_numpy(), b.column(1), b.column(2)) for b in batches))
        return result

    def candidate_pairs(self, left: pa.Table, right: pa.Table,
                        rules: Sequence[tuple[str, ...]], max_block_pairs: int
                        ) -> Candidates:
        """Fuzzy mode: the distinct pairs of rows of two holders' keys tables that share a
        blocking key under some rule, ordered (left, right); blocks of more than
        ``max_block_pairs`` pairs skipped and counted. This default joins them in this
        process with DuckDB, where the in-process strategy holds both tables anyway."""
        from linkage.engines.duckdb_blocking import candidate_pairs

        return candidate_pairs(left, right, rules, max_block_pairs)

    def compare_pairs(self, left: pa.Table, right: pa.Table,
                      fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                      cuts: Sequence[float], baselines: Mapping[str, float],
                      filters: Sequence[Mapping[str, Filters]] | None = None) -> np.ndarray:
        """Fuzzy mode: ``(pairs, fields)`` int8 comparison levels of the candidate pairs
        ``(left[li[k]], right[ri[k]])`` on the holders' Bloom-filter columns.

        Every engine must give the numpy levels byte for byte; this default computes them
        in this process, which is where a one-machine engine does its work anyway, on as
        many threads as the machine gives a stage (``PSEUDOLINK_THREADS``). ``filters``
        are the two tables' filters (:func:`linkage.fuzzy.bloom.filters_of`) where the
        caller already made them, so their bits are not counted twice; an engine that
        compares elsewhere may ignore them.
        """
        from linkage.engines.resources import threads
        from linkage.fuzzy.bloom import filters_of
        from linkage.fuzzy.scoring import comparison_levels

        columns = [c for cs in fields.values() for c in cs]
        workers = threads()
        if filters is None:
            filters = [filters_of(t, columns, workers) for t in (left, right)]
        return comparison_levels(filters[0], filters[1], fields, li, ri, cuts, baselines,
                                 workers=workers)

    def fuzzy_link_files(self, keys: Mapping[str, Path], params: FuzzyParams,
                         linkmap: Path | None, review: ReviewRequest | None = None
                         ) -> FuzzyOutcome:
        """Fuzzy mode: block, compare, fit the model, score and resolve the two holders'
        keys files (Parquet, in spec order) and, unless ``linkmap`` is None, write the plain
        link map there (``link_id``, ``holder``, ``serial``); return the counts. With
        ``review``, apply its decisions to the links and write its review files.

        This default does it in this process, comparing through :meth:`compare_pairs`; an
        engine that distributes overrides it so that no record comes to this process.
        Every engine must link the same pairs and list the same pairs for review (the
        random parts, review ids and decoys, differ).
        """
        from linkage.fuzzy.link import link_tables

        return link_tables({h: pq.read_table(p) for h, p in keys.items()}, params, linkmap,
                           engine=self, review=review)

    @abstractmethod
    def linked_records(self, linkmap: Path) -> dict[str, int]:
        """Rows of the link map (a Parquet file) per holder."""

    @abstractmethod
    def check_serials(self, linkmap: Path, payloads: Mapping[str, Path]) -> None:
        """Refuse payloads (Parquet files) that lack a linked serial
        (:class:`~linkage.errors.SerialMismatch`) or repeat a serial
        (:class:`~linkage.errors.LinkageError` naming the holder)."""

    @abstractmethod
    def combine_files(self, linkmap: Path, payloads: Mapping[str, tuple[Path, Sequence[str]]],
                      out: Path) -> tuple[int, list[str]]:
        """:meth:`combine` over Parquet files, published at ``out`` whole or not at all.

        ``payloads`` maps each holder to its file and attribute columns. Returns (rows,
        column names). Raises :class:`~linkage.errors.SerialMismatch`, publishing nothing,
        when a linked serial is missing from a payload or a link id would come out twice.
        """

    @abstractmethod
    def combine(self, linkmap: pa.Table, payloads: Mapping[str, pa.Table]) -> pa.Table:
        """One row per ``link_id`` (sorted), then each holder's attributes as
        ``{holder}__{column}``, holders in the mapping's order; null where a cluster has
        no record of that holder. Payloads hold ``serial`` plus attribute columns."""
