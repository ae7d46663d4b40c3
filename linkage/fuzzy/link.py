"""Stage 2 in fuzzy mode, at the key manager: block, compare, score, resolve, emit.

The key manager holds only serials, keyed Bloom filters and keyed blocking keys. It fits the
Fellegi-Sunter model on the candidates themselves (no labels exist), keeps each record's
mutual best pair, links those above the threshold, and writes the same link map and report
files as exact mode.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from linkage.engines import Engine, get_engine
from linkage.engines.base import ReviewRequest
from linkage.engines.resources import threads
from linkage.envelope import COMPRESSION, open_envelopes_to, seal_file
from linkage.errors import LinkageError
from linkage.files import atomic_path
from linkage.fuzzy.blocking import Candidates, column_name
from linkage.fuzzy.bloom import Filters, filters_of
from linkage.fuzzy.params import FuzzyParams, params_for
from linkage.fuzzy.resolve import best_per_right, greedy_one_to_one, weight_order
from linkage.fuzzy.review import keep_state, open_decisions, review_state_path, seal_review_lists
from linkage.fuzzy.scoring import (
    choose_threshold,
    comparison_levels,
    fit_em_patterns,
    fit_mutual_best,
    level_frequencies,
    pattern_index,
    random_baselines,
    weight_histogram,
)
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.link import LINKMAP_NAME, REPORT_NAME
from linkage.prepare import Progress
from linkage.reports import HolderRecipeStats, LinkReport, write_report
from linkage.scratch import private_dir
from linkage.serials import random_hex

RECIPE = "fuzzy"
#: Random pairs sampled to start u: nearly all are non-matches, whatever blocking kept.
RANDOM_PAIRS = 200_000


@dataclass
class FuzzyLinkReport(LinkReport):
    """A :class:`LinkReport` whose one "recipe" is ``fuzzy``, plus the model behind it:
    blocking counts, m/u per field and level, the threshold and the weight histogram."""

    fuzzy: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scored:
    """Everything :func:`score_candidates` decides, for the report and for benchmarks."""

    candidates: Candidates
    weight: np.ndarray
    probability: np.ndarray
    kept: np.ndarray
    details: dict[str, Any]
    #: Every mutual-best pair (indices into the candidates), linked or not.
    resolved: np.ndarray = field(default_factory=lambda: np.array([], np.int64))


def read_keys(manifest: ProjectManifest, keys_files: Sequence[str | Path], me, params
              ) -> dict[str, pa.Table]:
    """The two holders' keys tables, in memory (the in-process path and benchmarks)."""
    with private_dir("link") as scratch:
        files = open_keys(manifest, keys_files, me, params, Path(scratch))
        return {h: pq.read_table(p) for h, p in files.items()}


def open_keys(manifest: ProjectManifest, keys_files: Sequence[str | Path], me,
              params: FuzzyParams, scratch: Path) -> dict[str, Path]:
    """Open the holders' keys envelopes to verified Parquet files under ``scratch`` (spec
    order): an engine scans them from there, and on a cluster its executors read them, so
    that the records never need to be in this process's memory."""
    spec = manifest.spec
    opened = open_envelopes_to(
        [(path, "keys", spec.holder_ids, scratch / f"keys-{n}.parquet")
         for n, path in enumerate(keys_files, start=1)], me, manifest)
    files: dict[str, Path] = {}
    for path, (sealed, data) in zip(keys_files, opened, strict=True):
        sender = sealed["sender"]
        if sender in files:
            raise LinkageError(f"{path}: a second keys file from holder '{sender}'")
        if sealed.get("mode") != "fuzzy":
            raise LinkageError(f"{path}: holds exact-mode keys; project {manifest.id} is fuzzy "
                               "(prepare it again)")
        if sealed.get("fuzzy_params") != params.digest:
            raise LinkageError(f"{path}: encoded with other fuzzy parameters than this "
                               "version uses; every holder must prepare with the same version")
        files[sender] = data
    files = {h: files[h] for h in spec.holder_ids if h in files}
    if len(files) != 2:
        raise LinkageError("fuzzy linking takes the keys files of exactly two holders; got "
                           f"{', '.join(files) or 'none'}")
    needed = [c for e in params.fields.values() for c in e.columns] + [
        column_name(r) for r in params.blocking]
    for holder, data in files.items():
        names = pq.read_schema(data).names
        missing = [c for c in ["serial", *needed] if c not in names]
        if missing:
            raise LinkageError(f"keys file of '{holder}' lacks columns {missing}")
    return files


def score_candidates(left: pa.Table, right: pa.Table, params: FuzzyParams,
                     progress: Progress | None = None, *,
                     engine: str | Engine = "duckdb") -> Scored:
    """Block, compare, fit, threshold and resolve two holders' keys tables.

    The engine compares the candidate pairs (on Spark, in its executors); the model is
    fitted here, and the levels are identical whichever engine compared them.
    """
    compute = get_engine(engine)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    candidates = compute.candidate_pairs(left, right, params.blocking,
                                         params.max_block_pairs)
    timings["blocking"] = time.perf_counter() - start
    fields = {kind: encoding.columns for kind, encoding in params.fields.items()}
    columns = [c for cs in fields.values() for c in cs]
    filters: list[dict[str, Filters]] = [filters_of(t, columns, threads())
                                         for t in (left, right)]
    rng = np.random.default_rng(0)
    sample = min(RANDOM_PAIRS, left.num_rows * right.num_rows)
    random_li = rng.integers(0, left.num_rows, sample)
    random_ri = rng.integers(0, right.num_rows, sample)
    baselines = random_baselines(filters[0], filters[1], fields, random_li, random_ri)
    start = time.perf_counter()
    levels = compute.compare_pairs(left, right, fields, candidates.left, candidates.right,
                                   params.levels, baselines, filters=filters)
    timings["comparison"] = time.perf_counter() - start
    start = time.perf_counter()
    # One-to-one, two files share at most as many matches as the smaller has records;
    # many-to-one, at most one per record of the right holder.
    most = (right.num_rows if params.cardinality == "many_to_one"
            else min(left.num_rows, right.num_rows))
    expected = 0.5 * most
    n_levels = len(params.levels) + 1
    random_levels = comparison_levels(filters[0], filters[1], fields, random_li, random_ri,
                                      params.levels, baselines)
    # The distinct comparison patterns (what EM runs over), and each pair's pattern.
    patterns, inverse, pattern_counts = pattern_index(levels)
    model = fit_em_patterns(patterns, pattern_counts, n_levels, list(fields),
                            expected_matches=expected,
                            u_start=level_frequencies(random_levels, n_levels),
                            max_matches=most, iterations=params.em_iterations)
    pattern_weight, pattern_probability = model.score(patterns)
    weight, candidate_probability = pattern_weight[inverse], pattern_probability[inverse]
    timings["em"] = time.perf_counter() - start
    start = time.perf_counter()
    # One-to-one first (or many-to-one), over every candidate: a pair kept is the best for
    # its records. Nearly every true match is such a pair and most candidates are not, so
    # a match is likelier among the kept pairs than among all candidates: the model is
    # fitted again on them (same m, their own u and lambda) before the threshold.
    if params.cardinality == "many_to_one":
        resolved = best_per_right(candidates.left, candidates.right, weight)
    else:
        resolved = greedy_one_to_one(candidates.left, candidates.right, weight,
                                     order=weight_order(pattern_weight, inverse))
    expected_matches = model.lam * len(candidates)
    survivors = np.bincount(inverse[resolved], minlength=len(patterns))
    among = fit_mutual_best(model, patterns, survivors, expected_matches=expected_matches,
                            iterations=params.em_iterations)
    probability = among.score(patterns)[1][inverse]
    plausible = resolved[probability[resolved] >= params.min_probability]
    # Pairs the candidate-level model found likely but that lost to a better pair.
    conflicts = len(np.setdiff1d(np.flatnonzero(candidate_probability >= params.min_probability),
                                 resolved, assume_unique=True))
    threshold = choose_threshold(weight[plausible], probability[plausible],
                                 target_precision=params.target_precision,
                                 min_probability=params.min_probability,
                                 expected_total=expected_matches)
    kept = plausible[weight[plausible] >= threshold.weight]
    timings["resolve"] = time.perf_counter() - start
    details = {
        "fields": list(fields),
        "engine": compute.name,
        "hardening": params.hardening,
        "cardinality": params.cardinality,
        "salted": {k: list(e.salts) for k, e in params.fields.items() if e.salts},
        "levels": list(params.levels),
        "random_pair_similarity": baselines,
        "candidates": len(candidates),
        "candidates_per_rule": candidates.pairs_per_rule,
        "skipped_blocks": candidates.skipped_blocks,
        "skipped_pairs": candidates.skipped_pairs,
        "model": model.to_dict(params.levels),
        "threshold": {"weight": round(threshold.weight, 3),
                      "probability": round(threshold.probability, 6),
                      "estimated_precision": round(threshold.estimated_precision, 6),
                      "estimated_recall": round(threshold.estimated_recall, 6),
                      "target_precision": params.target_precision},
        "mutual_best_pairs": len(resolved),
        "match_share_among_mutual_best": round(among.lam, 6),
        "mutual_best_model": among.to_dict(params.levels),
        "plausible_pairs": len(plausible),
        "one_to_one_conflicts": conflicts,
        "weight_histogram": weight_histogram(weight),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    return Scored(candidates, weight, probability, kept, details, resolved)


@dataclass
class FuzzyOutcome:
    """What a fuzzy link decided, as counts: everything its report needs, however many
    records there were. An engine that links in its own workers returns only this."""

    details: dict[str, Any]
    links: int
    #: Per holder (spec order): records, records with some encoding, and records in some
    #: candidate pair.
    records: dict[str, int]
    keyed: dict[str, int]
    shared: dict[str, int]


def link_tables(tables: dict[str, pa.Table], params: FuzzyParams, linkmap: Path | None, *,
                engine: str | Engine = "duckdb", review: ReviewRequest | None = None
                ) -> FuzzyOutcome:
    """Score, resolve and (unless ``linkmap`` is None) write the plain link map, in this
    process: what every engine does by default (:meth:`Engine.fuzzy_link_files`).

    ``review`` (clerical review) may change the pairs linked and writes review files
    (:func:`linkage.fuzzy.review.review_here`).
    """
    (left_id, left), (right_id, right) = tables.items()
    scored = score_candidates(left, right, params, engine=engine)
    pairs = list(zip(scored.candidates.left[scored.kept].tolist(),
                     scored.candidates.right[scored.kept].tolist(), strict=True))
    if review is not None:
        from linkage.fuzzy.review import review_here

        pairs = review_here(review, tables, scored, pairs)
    links = len(pairs)
    keyed = {}
    for holder, table in tables.items():
        keyed[holder] = table.num_rows - int(np.logical_not(np.any(
            [table.column(c).is_valid().to_numpy(zero_copy_only=False)
             for e in params.fields.values() for c in e.columns], axis=0)).sum())
    outcome = FuzzyOutcome(
        scored.details, links, {h: t.num_rows for h, t in tables.items()}, keyed,
        {left_id: _distinct(scored.candidates.left, left.num_rows),
         right_id: _distinct(scored.candidates.right, right.num_rows)})
    if linkmap is not None:
        link_ids = random_hex(links)
        li = np.array([p[0] for p in pairs], np.int64)
        ri = np.array([p[1] for p in pairs], np.int64)
        table = pa.table({
            "link_id": pa.concat_arrays([link_ids, link_ids]),
            "holder": pa.array([left_id] * links + [right_id] * links, pa.string()),
            "serial": pa.concat_arrays([left.column("serial").take(pa.array(li)).combine_chunks(),
                                        right.column("serial").take(pa.array(ri))
                                        .combine_chunks()]),
        })
        with atomic_path(linkmap) as tmp:
            pq.write_table(table, tmp, compression=COMPRESSION["linkmap"])
    return outcome


def _distinct(rows: np.ndarray, records: int) -> int:
    """How many of ``records`` rows appear in ``rows``: a mark per record, not a sort of
    the 15 million candidate rows (``np.unique`` took seconds of the link stage alone)."""
    seen = np.zeros(records, dtype=bool)
    seen[rows] = True
    return int(np.count_nonzero(seen))


def link(project: ProjectManifest | str | Path, keys_files: Sequence[str | Path],
         out_dir: str | Path, keys_dir: str | Path, passphrase: str, *,
         as_party: str | None = None, engine: str | Engine = "duckdb",
         precheck: bool = False, progress: Progress | None = None,
         review_band: tuple[float, float] | None = None,
         decisions: Sequence[str | Path] = ()) -> FuzzyLinkReport:
    """Link two holders' fuzzy keys files; ``precheck`` writes the report only.

    ``review_band`` (low, high) also seals each holder a review list of the mutual-best
    pairs whose probability lies in it; ``decisions`` are the holders' answers to an earlier
    list, applied to this run's links (see ``linkage.fuzzy.review``). Review names records
    (serials), so the engine does it where it holds them (a :class:`ReviewRequest`; on
    Spark, in the executors): this process opens the decisions to files, seals the listings
    the engine wrote and keeps its record of the entries, moving bytes, never records.
    """
    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    engine = get_engine(engine)
    me = manifest.unlock_as("key_manager", as_party, keys_dir, passphrase)
    params = params_for(spec)
    tick = _ticker(progress, 4)
    out_dir = Path(out_dir)
    with private_dir("link") as scratch:
        files = open_keys(manifest, keys_files, me, params, Path(scratch))
        request = _review_request(manifest, me, list(files), keys_dir, Path(scratch),
                                  None if precheck else review_band, decisions)
        tick(1)
        plain = None if precheck else Path(scratch) / "linkmap.parquet"
        outcome = engine.fuzzy_link_files(files, params, plain, review=request)
        tick(3)
        links = outcome.links
        conflicts = outcome.details["one_to_one_conflicts"]
        holders = {h: {RECIPE: HolderRecipeStats(
            records=outcome.records[h], keys=outcome.keyed[h], links=links,
            shared=outcome.shared[h], duplicate_records=0, duplicate_keys=0)}
            for h in files}
        report = FuzzyLinkReport(
            project=manifest.id, precheck=precheck, links=links,
            links_per_recipe={RECIPE: links}, linked_records=dict.fromkeys(files, links),
            duplicates=0, conflicts=conflicts, holders=holders,
            conflicts_per_recipe={RECIPE: {"one_to_one": conflicts}},
            records=dict(outcome.records), fuzzy=outcome.details)
        out_dir.mkdir(parents=True, exist_ok=True)
        if plain is not None:
            linkmap_path = out_dir / LINKMAP_NAME
            seal_file(linkmap_path, plain, kind="linkmap", project=manifest, sender=me,
                      recipient=manifest.party(spec.combiner))
            report.outputs["linkmap"] = str(linkmap_path)
        if request is not None and request.band is not None:
            report.outputs.update(seal_review_lists(manifest, me, request.listings, out_dir))
            # Recorded, so that project close destroys it.
            report.outputs["review_state"] = str(keep_state(request.state, keys_dir,
                                                            manifest.id))
    report.outputs["report"] = str(out_dir / REPORT_NAME)
    write_report(out_dir / REPORT_NAME, report.to_dict())
    tick(4)
    return report


def _review_request(manifest: ProjectManifest, me, holders: Sequence[str],
                    keys_dir: str | Path, scratch: Path,
                    review_band: tuple[float, float] | None,
                    decisions: Sequence[str | Path]) -> ReviewRequest | None:
    """What the engine is to review, with its inputs and outputs as files in ``scratch``:
    the decisions opened there and a copy of the earlier review's record beside them,
    where a cluster's executors read what the driver opened."""
    if review_band is None and not decisions:
        return None
    earlier, opened = None, {}
    if decisions:
        kept = review_state_path(keys_dir, manifest.id)
        if not kept.exists():
            raise LinkageError(f"no review was issued for project {manifest.id} from this "
                               "workspace (run link with --review-band first)")
        opened = open_decisions(manifest, me, decisions, scratch)
        earlier = scratch / "review-state-earlier.parquet"
        shutil.copyfile(kept, earlier)
    listings, state = {}, None
    if review_band is not None:
        listings = {h: scratch / f"review-{n}.parquet" for n, h in enumerate(holders, 1)}
        state = scratch / "review-state.parquet"
    return ReviewRequest(band=review_band, listings=listings, state=state,
                         earlier_state=earlier, decisions=opened)


def _ticker(progress: Progress | None, total: int):
    def tick(done: int) -> None:
        if progress is not None:
            progress("link (fuzzy)", done, total)
    return tick
