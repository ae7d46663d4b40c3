"""Fuzzy mode on Apache Spark, in the executors from the keys files to the link map.

:func:`fuzzy_link` is :meth:`SparkEngine.fuzzy_link_files`: the executors read the two
keys files (Parquet, opened from their envelopes by the driver to where they can read
them), join blocking keys into candidate pairs, compare the pairs' Bloom filters with the
same numpy Dice (``mapInArrow``), score them, resolve them one-to-one and write the link
map. The driver gets only aggregates: counts, the random pairs' mean similarity per field,
and the distinct comparison patterns with their counts (a few thousand rows whatever the
data size), on which it fits the model exactly as the one-machine path does (same patterns,
same order, same numpy: the same floating-point weights). Each pattern's weight goes back
to the executors as a small broadcast table.

One-to-one resolution is the one-machine greedy (best weight first, ties by left then right
row) done in rounds: a pair that is the best of every pair of its left record and of its
right record is the pair greedy would take, so each round keeps those and drops every other
pair of their records, until none is left. With a strict order of pairs that is exactly
greedy's result (tests/linkage/test_fuzzy_spark.py holds it to greedy on ties).

Clerical review (a :class:`~linkage.engines.base.ReviewRequest`) runs there too. The band
is a set of patterns (a pair's probability is its pattern's), so the review list's pairs
are the resolved pairs joined to a small broadcast table; each holder's decoys are drawn by
a sort on random keys; the executors draw the review ids and write the listings and the
record of entries. Decisions are joins: the holders' answers against that record, the
rejected pairs dropped, the confirmed ones offered to the greedy above in order of serials.
The driver gets counts, and seals or moves the files.

:func:`spark_levels` (the comparison step alone) is :meth:`SparkEngine.compare_pairs`, for
the in-process path (``score_candidates(engine=...)``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from linkage.fuzzy.blocking import column_name, rule_name
from linkage.fuzzy.bloom import from_arrow
from linkage.fuzzy.scoring import (
    MISSING,
    choose_threshold_counts,
    comparison_levels,
    distinct_patterns,
    field_similarity,
    fit_em_patterns,
    fit_mutual_best,
    similarity_levels,
    weight_histogram,
)

if TYPE_CHECKING:
    from linkage.engines.base import ReviewRequest
    from linkage.fuzzy.link import FuzzyOutcome
    from linkage.fuzzy.params import FuzzyParams


def _field_name(index: int) -> str:
    return f"f{index}"


def spark_levels(spark: SparkSession, left: pa.Table, right: pa.Table,
                 fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                 cuts: Sequence[float], baselines: Mapping[str, float]) -> np.ndarray:
    """``(pairs, fields)`` int8 levels of pairs ``(left[li[k]], right[ri[k]])``, on Spark."""
    columns = [c for cs in fields.values() for c in cs]
    widths = {c: left.schema.field(c).type.byte_width for c in columns}
    # Spark column names must not carry the ':' and '|' of keys-file columns.
    alias = {c: f"c{i}" for i, c in enumerate(columns)}
    sides = {}
    for side, table, key in (("l", left, "__l"), ("r", right, "__r")):
        data = [pa.array(np.arange(table.num_rows, dtype=np.int32))] + [
            table.column(c).combine_chunks().cast(pa.binary()) for c in columns]
        names = [key] + [f"{side}_{alias[c]}" for c in columns]
        sides[side] = spark.createDataFrame(pa.table(data, names=names))
    pairs = spark.createDataFrame(pa.table({
        "__k": pa.array(np.arange(len(li), dtype=np.int64)),
        "__l": pa.array(np.asarray(li, dtype=np.int32)),
        "__r": pa.array(np.asarray(ri, dtype=np.int32))}))
    joined = pairs.join(sides["l"], "__l").join(sides["r"], "__r")
    field_list = list(fields.items())

    def compare(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            n = batch.num_rows
            filters = [{c: from_arrow(batch.column(f"{side}_{alias[c]}").cast(
                pa.binary(widths[c]))) for c in columns} for side in ("l", "r")]
            index = np.arange(n)
            levels = comparison_levels(filters[0], filters[1], dict(field_list), index, index,
                                       cuts, baselines)
            yield pa.RecordBatch.from_arrays(
                [batch.column("__k")] + [pa.array(levels[:, f]) for f in range(len(field_list))],
                names=["__k"] + [_field_name(f) for f in range(len(field_list))])

    schema = "__k long, " + ", ".join(f"{_field_name(f)} tinyint"
                                      for f in range(len(field_list)))
    result = joined.mapInArrow(compare, schema).toArrow()
    order = np.argsort(result.column("__k").to_numpy())
    out = np.empty((len(li), len(field_list)), dtype=np.int8)
    for f in range(len(field_list)):
        out[:, f] = result.column(_field_name(f)).to_numpy()[order]
    if len(result) != len(li):
        raise RuntimeError(f"Spark compared {len(result)} of {len(li)} candidate pairs")
    return out


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class _Filters:
    """Turns a batch's binary filter columns (``{side}_{alias}``) back into numpy filters."""

    def __init__(self, columns: Sequence[str], alias: Mapping[str, str],
                 widths: Mapping[str, int]) -> None:
        self.columns, self.alias, self.widths = list(columns), dict(alias), dict(widths)

    def of(self, batch: pa.RecordBatch, side: str) -> dict:
        return {c: from_arrow(batch.column(f"{side}_{self.alias[c]}").cast(
            pa.binary(self.widths[c]))) for c in self.columns}


class _Similarities:
    """``mapInArrow``: each random pair's similarity per field (null where none is shared)."""

    def __init__(self, filters: _Filters, fields: Mapping[str, Sequence[str]]) -> None:
        self.filters, self.fields = filters, dict(fields)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            left, right = self.filters.of(batch, "l"), self.filters.of(batch, "r")
            index = np.arange(batch.num_rows)
            yield pa.RecordBatch.from_arrays(
                [pa.array(field_similarity(left, right, columns, index, index),
                          from_pandas=True)
                 for columns in self.fields.values()],
                names=[f"s{f}" for f in range(len(self.fields))])


class _RandomLevels:
    """``mapInArrow``: the random pairs' levels, one row per pair and field (missing out)."""

    def __init__(self, n_fields: int, cuts: Sequence[float], baselines: Sequence[float]
                 ) -> None:
        self.n_fields, self.cuts, self.baselines = n_fields, list(cuts), list(baselines)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            fields, levels = [], []
            for f in range(self.n_fields):
                sims = batch.column(f"s{f}").to_numpy(zero_copy_only=False).astype(np.float64)
                level = similarity_levels(sims, self.cuts, self.baselines[f])
                level = level[level != MISSING]
                fields.append(np.full(len(level), f, np.int32))
                levels.append(level)
            yield pa.RecordBatch.from_arrays(
                [pa.array(np.concatenate(fields)), pa.array(np.concatenate(levels))],
                names=["f", "level"])


class _Compare:
    """``mapInArrow``: each candidate pair's comparison levels, as the numpy path bins them."""

    def __init__(self, filters: _Filters, fields: Mapping[str, Sequence[str]],
                 cuts: Sequence[float], baselines: Mapping[str, float]) -> None:
        self.filters, self.fields = filters, dict(fields)
        self.cuts, self.baselines = list(cuts), dict(baselines)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            index = np.arange(batch.num_rows)
            levels = comparison_levels(self.filters.of(batch, "l"), self.filters.of(batch, "r"),
                                       self.fields, index, index, self.cuts, self.baselines)
            yield pa.RecordBatch.from_arrays(
                [batch.column("l"), batch.column("r")]
                + [pa.array(levels[:, f]) for f in range(len(self.fields))],
                names=["l", "r"] + [_field_name(f) for f in range(len(self.fields))])


def _checkpoint(frame: DataFrame) -> DataFrame:
    """Materialise a step in the executors, so later steps do not recompute its lineage."""
    return frame.localCheckpoint(eager=True)


def resolve_greedy(scored: DataFrame) -> DataFrame:
    """One-to-one resolution of ``scored`` (``l``, ``r``, ``w``, ...): the pairs the
    one-machine greedy keeps (best ``w`` first, ties by ``l`` then ``r``), in rounds of
    pairs that are the best of both their records."""
    return _greedy(scored, [F.desc("w"), F.asc("l"), F.asc("r")])


def _greedy(pairs: DataFrame, order: Sequence[Column]) -> DataFrame:
    """The pairs (``l``, ``r``, ...) that taking them one by one in ``order`` (a strict
    order), each whose records are both still free, takes: in rounds, each keeping the
    pairs that come first among every pair of their left record and of their right record
    (greedy takes those), and dropping the other pairs of their records."""
    by_left = Window.partitionBy("l").orderBy(*order)
    by_right = Window.partitionBy("r").orderBy(*order)
    remaining = _checkpoint(pairs)
    kept: list[DataFrame] = []
    while True:
        best = _checkpoint(
            remaining.withColumn("__bl", F.row_number().over(by_left))
            .withColumn("__br", F.row_number().over(by_right))
            .where((F.col("__bl") == 1) & (F.col("__br") == 1)).drop("__bl", "__br"))
        if best.isEmpty():
            break
        kept.append(best)
        rest = _checkpoint(remaining.join(best.select("l"), "l", "left_anti")
                           .join(best.select("r"), "r", "left_anti"))
        remaining.unpersist()
        remaining = rest
        if remaining.isEmpty():
            break
    if not kept:
        return pairs.limit(0)
    out = kept[0]
    for part in kept[1:]:
        out = out.unionByName(part)
    return out


def resolve_best_per_right(scored: DataFrame) -> DataFrame:
    """Many-to-one: each right record's best pair (ties by ``l``), as ``best_per_right``."""
    by_right = Window.partitionBy("r").orderBy(F.desc("w"), F.asc("l"))
    return (scored.withColumn("__br", F.row_number().over(by_right))
            .where(F.col("__br") == 1).drop("__br"))


def fuzzy_link(spark: SparkSession, keys: Mapping[str, Path], params: FuzzyParams,
               linkmap: Path | None, review: ReviewRequest | None = None) -> FuzzyOutcome:
    """Link two holders' fuzzy keys files in the executors, with ``review`` applying
    decisions and writing review files there too; see the module's docstring."""
    from linkage.engines.spark import _write_single, with_link_ids
    from linkage.envelope import COMPRESSION
    from linkage.fuzzy.link import RANDOM_PAIRS, FuzzyOutcome

    (left_id, left_path), (right_id, right_path) = keys.items()
    fields = {kind: encoding.columns for kind, encoding in params.fields.items()}
    field_list = list(fields)
    columns = [c for cs in fields.values() for c in cs]
    # Spark column names must not carry the ':' and '|' of keys-file columns.
    alias = {c: f"c{i}" for i, c in enumerate(columns)}
    schema = pq.read_schema(left_path)
    filters = _Filters(columns, alias, {c: schema.field(c).type.byte_width for c in columns})
    rules = list(params.blocking)
    rows = {h: pq.read_metadata(p).num_rows for h, p in keys.items()}
    n_left, n_right = rows[left_id], rows[right_id]
    timings: dict[str, float] = {}
    start = time.perf_counter()

    sides = {}
    for side, path in (("l", left_path), ("r", right_path)):
        # The row index in the file: the one-machine path's row number, which orders ties.
        sides[side] = spark.read.parquet(str(path)).select(
            F.col("_metadata.row_index").cast("int").alias("i"), F.col("serial"),
            *(F.col(_q(c)).alias(alias[c]) for c in columns),
            *(F.col(_q(column_name(r))).alias(f"b{k}") for k, r in enumerate(rules)))
    keyed = {h: sides[s].where(_any_present([alias[c] for c in columns])).count()
             for h, s in ((left_id, "l"), (right_id, "r"))}

    # Blocking: pairs of records sharing a key under some rule, less oversized blocks.
    def long(frame: DataFrame, name: str) -> DataFrame:
        parts = [frame.where(F.col(f"b{k}").isNotNull()).select(
            F.lit(k).alias("rule"), F.col(f"b{k}").alias("key"), F.col("i").alias(name))
            for k in range(len(rules))]
        out = parts[0]
        for part in parts[1:]:
            out = out.unionByName(part)
        return out

    a, b = long(sides["l"], "l"), long(sides["r"], "r")
    sizes = _checkpoint(
        a.groupBy("rule", "key").agg(F.count("*").alias("na"))
        .join(b.groupBy("rule", "key").agg(F.count("*").alias("nb")), ["rule", "key"])
        .withColumn("n", F.col("na") * F.col("nb"))
        .withColumn("skip", F.col("n") > F.lit(params.max_block_pairs)))
    pairs_per_rule = {rule_name(r): 0 for r in rules}
    skipped_blocks: dict[str, int] = {}
    skipped_pairs: dict[str, int] = {}
    for rule, skip, blocks, pairs in sizes.groupBy("rule", "skip").agg(
            F.count("*"), F.sum("n")).collect():
        name = rule_name(rules[rule])
        if skip:
            skipped_blocks[name], skipped_pairs[name] = int(blocks), int(pairs)
        else:
            pairs_per_rule[name] = int(pairs)
    candidates = _checkpoint(
        a.join(sizes.where(~F.col("skip")).select("rule", "key"), ["rule", "key"])
        .join(b, ["rule", "key"]).select("l", "r").distinct())
    sizes.unpersist()
    n_candidates, shared_left, shared_right = candidates.agg(
        F.count("*"), F.countDistinct("l"), F.countDistinct("r")).first()
    timings["blocking"] = time.perf_counter() - start

    def with_filters(pairs: DataFrame) -> DataFrame:
        for side in ("l", "r"):
            pairs = pairs.join(sides[side].select(
                F.col("i").alias(side), *(F.col(alias[c]).alias(f"{side}_{alias[c]}")
                                          for c in columns)), side)
        return pairs

    # Random pairs (nearly all non-matches), drawn as the one-machine path draws them:
    # the baseline similarity per field and the levels' shares that start u.
    rng = np.random.default_rng(0)
    sample = min(RANDOM_PAIRS, n_left * n_right)
    random_pairs = spark.createDataFrame(pa.table({
        "l": pa.array(rng.integers(0, n_left, sample).astype(np.int32)),
        "r": pa.array(rng.integers(0, n_right, sample).astype(np.int32))}))
    sims = _checkpoint(with_filters(random_pairs).mapInArrow(
        _Similarities(filters, fields), ", ".join(f"s{f} double" for f in range(len(fields)))))
    means = sims.agg(*(F.avg(f"s{f}") for f in range(len(fields)))).first()
    baselines = {name: round(float(mean), 6) if mean is not None else 0.0
                 for name, mean in zip(field_list, means, strict=True)}
    n_levels = len(params.levels) + 1
    u_start = np.ones((len(fields), n_levels))
    for f, level, count in (sims.mapInArrow(
            _RandomLevels(len(fields), params.levels, [baselines[n] for n in field_list]),
            "f int, level tinyint").groupBy("f", "level").count().collect()):
        u_start[f, level] += count
    u_start /= u_start.sum(axis=1, keepdims=True)
    sims.unpersist()

    start = time.perf_counter()
    level_names = [_field_name(f) for f in range(len(fields))]
    levels = _checkpoint(with_filters(candidates).mapInArrow(
        _Compare(filters, fields, params.levels, baselines),
        "l int, r int, " + ", ".join(f"{n} tinyint" for n in level_names)))
    candidates.unpersist()
    timings["comparison"] = time.perf_counter() - start

    # The model, on the driver, over the distinct patterns and their counts.
    start = time.perf_counter()
    counted = levels.groupBy(*level_names).count().collect()
    patterns, pattern_counts = distinct_patterns(
        np.array([list(row[:-1]) for row in counted], dtype=np.int8).reshape(
            len(counted), len(fields)),
        np.array([row[-1] for row in counted], dtype=np.int64))
    most = n_right if params.cardinality == "many_to_one" else min(n_left, n_right)
    model = fit_em_patterns(patterns, pattern_counts, n_levels, field_list,
                            expected_matches=0.5 * most, u_start=u_start, max_matches=most,
                            iterations=params.em_iterations)
    weight, candidate_probability = model.score(patterns)
    timings["em"] = time.perf_counter() - start

    start = time.perf_counter()
    table = spark.createDataFrame(pa.table(
        [pa.array(patterns[:, f]) for f in range(len(fields))]
        + [pa.array(np.arange(len(patterns), dtype=np.int32)), pa.array(weight)],
        names=[*level_names, "pid", "w"]))
    scored = levels.join(F.broadcast(table), level_names).select("l", "r", "pid", "w")
    resolve = (resolve_best_per_right if params.cardinality == "many_to_one"
               else resolve_greedy)
    resolved = _checkpoint(resolve(scored))
    resolved_counts = np.zeros(len(patterns), dtype=np.int64)
    for pid, count in resolved.groupBy("pid").count().collect():
        resolved_counts[pid] = count
    n_resolved = int(resolved_counts.sum())
    expected_matches = model.lam * int(n_candidates)
    among = fit_mutual_best(model, patterns, resolved_counts,
                            expected_matches=expected_matches,
                            iterations=params.em_iterations)
    probability = among.score(patterns)[1]
    plausible = probability >= params.min_probability
    likely = candidate_probability >= params.min_probability
    conflicts = int((pattern_counts[likely] - resolved_counts[likely]).sum())
    threshold = choose_threshold_counts(weight[plausible], probability[plausible],
                                        resolved_counts[plausible],
                                        target_precision=params.target_precision,
                                        min_probability=params.min_probability,
                                        expected_total=expected_matches)
    kept_patterns = np.flatnonzero(plausible & (weight >= threshold.weight))
    links = int(resolved_counts[kept_patterns].sum())
    timings["resolve"] = time.perf_counter() - start

    kept = resolved.join(F.broadcast(spark.createDataFrame(pa.table(
        {"pid": pa.array(kept_patterns.astype(np.int32))}))), "pid").select("l", "r")
    reviewed: dict[str, dict] = {}
    held: list[DataFrame] = []
    if review is not None:
        serials = {side: sides[side].select(F.col("i").alias(side),
                                            F.col("serial").alias(f"{side}s"))
                   for side in ("l", "r")}
        if review.decisions:
            kept, reviewed["review_decisions"] = _apply_decisions(kept, links, serials, review)
            links = reviewed["review_decisions"].pop("links")
            held.append(kept)
        if review.band is not None:
            reviewed["review"] = _review_lists(resolved, probability, serials, review,
                                               (left_id, right_id))
    if linkmap is not None:
        # A right record is in at most one kept pair (either cardinality, and after
        # decisions): it names the link.
        kept = kept.select(F.col("r").cast("long").alias("cluster"), "l", "r")
        # Distinct right records: distinct cluster numbers, so distinct link ids.
        pairs = with_link_ids(kept)
        rows_out = None
        for side, holder in (("l", left_id), ("r", right_id)):
            part = pairs.join(sides[side].select(F.col("i").alias(side), "serial"), side
                              ).select("link_id", F.lit(holder).alias("holder"), "serial")
            rows_out = part if rows_out is None else rows_out.unionByName(part)
        _write_single(rows_out, linkmap, COMPRESSION["linkmap"], dictionary=False,
                      order=("link_id", "holder"), drop=(), shuffle=True)
    for frame in held:
        frame.unpersist()
    levels.unpersist()
    resolved.unpersist()

    details = {
        "fields": field_list,
        "engine": "spark",
        "hardening": params.hardening,
        "cardinality": params.cardinality,
        "salted": {k: list(e.salts) for k, e in params.fields.items() if e.salts},
        "levels": list(params.levels),
        "random_pair_similarity": baselines,
        "candidates": int(n_candidates),
        "candidates_per_rule": pairs_per_rule,
        "skipped_blocks": skipped_blocks,
        "skipped_pairs": skipped_pairs,
        "model": model.to_dict(params.levels),
        "threshold": {"weight": round(threshold.weight, 3),
                      "probability": round(threshold.probability, 6),
                      "estimated_precision": round(threshold.estimated_precision, 6),
                      "estimated_recall": round(threshold.estimated_recall, 6),
                      "target_precision": params.target_precision},
        "mutual_best_pairs": n_resolved,
        "match_share_among_mutual_best": round(among.lam, 6),
        "mutual_best_model": among.to_dict(params.levels),
        "plausible_pairs": int(resolved_counts[plausible].sum()),
        "one_to_one_conflicts": conflicts,
        "weight_histogram": weight_histogram(weight, counts=pattern_counts),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
        **reviewed,
    }
    return FuzzyOutcome(details, links, rows, keyed,
                        {left_id: int(shared_left), right_id: int(shared_right)})


def _apply_decisions(kept: DataFrame, links: int, serials: Mapping[str, DataFrame],
                     review: ReviewRequest) -> tuple[DataFrame, dict[str, int]]:
    """The kept pairs (``l``, ``r``) after the holders' decisions, as
    :func:`linkage.fuzzy.review.apply_decisions` leaves them, and the report's counts
    (plus ``links``). Every step is a join in the executors; the driver gets counts.

    Pairs any holder called a non-match are dropped; then the confirmed pairs whose two
    records are both in these keys files and free of the links left are taken one by one
    in order of their serials, each whose records are still free: greedy over that
    order (:func:`_greedy`), which is what the one-machine loop over ``sorted(confirmed)``
    does.
    """
    from linkage.errors import LinkageError

    spark = kept.sparkSession
    state = spark.read.parquet(str(review.earlier_state))
    said = None
    for holder, (_, data) in review.decisions.items():
        part = spark.read.parquet(str(data)).select(
            F.lit(holder).alias("holder"), F.col("review_id").cast("string"),
            F.col("decision").cast("string"))
        said = part if said is None else said.unionByName(part)
    unknown = dict(said.join(state.select("holder", "review_id"), ["holder", "review_id"],
                             "left_anti").groupBy("holder").count().collect())
    for holder, (source, _) in review.decisions.items():
        if unknown.get(holder):
            raise LinkageError(f"{source}: review id of no review list issued to '{holder}'")
    # Per pair of serials: did any holder say non-match; did every one say match.
    votes = _checkpoint(
        said.join(state.where(~F.col("decoy")), ["holder", "review_id"])
        .groupBy(F.col("left_serial").alias("ls"), F.col("right_serial").alias("rs"))
        .agg(F.max(F.coalesce((F.col("decision") == "non-match").cast("int"), F.lit(0)))
             .alias("no"),
             F.min(F.coalesce((F.col("decision") == "match").cast("int"), F.lit(0)))
             .alias("yes")))
    confirmed = (F.col("no") == 0) & (F.col("yes") == 1)
    n_confirmed, n_rejected = votes.agg(F.sum(confirmed.cast("long")),
                                        F.sum(F.col("no").cast("long"))).first()
    try:
        left = (kept.join(serials["l"], "l").join(serials["r"], "r")
                .join(votes.where(F.col("no") == 1).select("ls", "rs"), ["ls", "rs"],
                      "left_anti").select("l", "r"))
        left = _checkpoint(left)
        offered = (votes.where(confirmed).select("ls", "rs")
                   .join(serials["l"], "ls").join(serials["r"], "rs")
                   .join(left.select("l"), "l", "left_anti")
                   .join(left.select("r"), "r", "left_anti"))
        added = _greedy(offered, [F.asc("ls"), F.asc("rs")]).select("l", "r")
        out = _checkpoint(left.unionByName(added))
        n_left, n_out = left.count(), out.count()
        left.unpersist()
    finally:
        votes.unpersist()
    return out, {"confirmed": int(n_confirmed or 0), "rejected": int(n_rejected or 0),
                 "links_added": n_out - n_left, "links_removed": links - n_left,
                 "links": n_out}


def _review_lists(resolved: DataFrame, probability: np.ndarray,
                  serials: Mapping[str, DataFrame], review: ReviewRequest,
                  holders: tuple[str, str]) -> dict:
    """Write each holder's review listing and the key manager's record of its entries
    (``review.listings``, ``review.state``), in the executors, as
    :func:`linkage.fuzzy.review.review_entries` makes them: the mutual-best pairs whose
    probability lies in the band, padded per holder with as many decoys (its records in
    no such pair, probabilities uniform in the band), under random review ids, in random
    order. The report's counts come back."""
    from linkage.engines.spark import _write_single
    from linkage.fuzzy.review import DECOYS_PER_ENTRY, LISTING_COMPRESSION

    spark = resolved.sparkSession
    low, high = review.band
    # Patterns, not pairs: the probability is the pattern's, as in the one-machine path.
    in_band = np.flatnonzero((probability >= low) & (probability <= high))
    band = _checkpoint(
        resolved.join(F.broadcast(spark.createDataFrame(pa.table({
            "pid": pa.array(in_band.astype(np.int32)),
            "probability": pa.array(np.round(probability[in_band], 4), pa.float64())}))),
            "pid")
        .join(serials["l"], "l").join(serials["r"], "r")
        .select("l", "r", "probability", F.col("ls").alias("left_serial"),
                F.col("rs").alias("right_serial")))
    held = [band]
    try:
        pairs = band.count()
        entries = None
        for n, side in enumerate(("l", "r")):
            real = band.select(
                F.lit(n).alias("h"), F.col("left_serial" if side == "l" else "right_serial")
                .alias("serial"), "probability", F.lit(False).alias("decoy"),
                "left_serial", "right_serial")
            pool = serials[side].join(band.select(side), side, "left_anti").select(
                F.col(f"{side}s").alias("serial"))
            decoys = _sample(pool, pairs * DECOYS_PER_ENTRY, review.band, held)
            decoys = decoys.select(
                F.lit(n).alias("h"), "serial", "probability", F.lit(True).alias("decoy"),
                F.lit(None).cast("string").alias("left_serial"),
                F.lit(None).cast("string").alias("right_serial"))
            for part in (real, decoys):
                entries = part if entries is None else entries.unionByName(part)
        listed = _review_ids(entries)
        held.append(listed)
        # Ordered by the random review id: a random order, that tells nothing of which
        # entries are real.
        for n, holder in enumerate(holders):
            _write_single(listed.where(F.col("h") == n).select(
                "review_id", "serial", "probability"), review.listings[holder],
                LISTING_COMPRESSION, dictionary=False, order=("review_id",), drop=(),
                shuffle=True)
        _write_single(listed.select(
            "h", "review_id",
            F.when(F.col("h") == 0, F.lit(holders[0])).otherwise(F.lit(holders[1]))
            .alias("holder"), "decoy", "left_serial", "right_serial"), review.state,
            "snappy", dictionary=True, order=("h", "review_id"), drop=("h",), shuffle=True)
    finally:
        for frame in held:
            frame.unpersist()
    return {"band": list(review.band), "pairs": int(pairs)}


class _Draws:
    """``mapInArrow``: a uniform sort key (``__key``) and a probability uniform in the
    band, rounded as listings round it, per row; each task seeds from the OS."""

    def __init__(self, band: tuple[float, float]) -> None:
        self.low, self.high = band

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rng = np.random.default_rng()
        for batch in batches:
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(rng.random(n)),
                 pa.array(np.round(rng.uniform(self.low, self.high, n), 4))],
                names=[*batch.schema.names, "__key", "probability"])


def _sample(frame: DataFrame, k: int, band: tuple[float, float],
            held: list[DataFrame]) -> DataFrame:
    """``min(k, rows)`` rows of ``frame`` drawn uniformly without replacement, each with a
    probability uniform in ``band``: the ``k`` smallest of uniform random keys, found by a
    range-partitioned sort in the executors and, per sorted partition, a count (the driver
    gets one row per partition and says how many rows each keeps)."""
    drawn = _checkpoint(frame.mapInArrow(_Draws(band), StructType(
        [*frame.schema.fields, StructField("__key", DoubleType()),
         StructField("probability", DoubleType())])))
    ranked = _checkpoint(drawn.orderBy("__key")
                         .withColumn("__part", F.spark_partition_id())
                         .withColumn("__pos", F.monotonically_increasing_id()))
    drawn.unpersist()
    held.append(ranked)
    ends, left = [], k
    for part, count, first in sorted(ranked.groupBy("__part").agg(
            F.count(F.lit(1)), F.min("__pos")).collect()):
        take = min(int(count), left)
        left -= take
        ends += [F.lit(part), F.lit(first + take)]
    if not ends:
        return ranked.drop("__key", "__part", "__pos")
    # Within a partition the positions count up from its first in key order.
    return (ranked.where(F.col("__pos") < F.element_at(F.create_map(*ends), F.col("__part")))
            .drop("__key", "__part", "__pos"))


def _draw_review_ids(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``: a random review id (the OS's CSPRNG) for each entry."""
    from linkage.serials import random_hex

    for batch in batches:
        yield pa.RecordBatch.from_arrays([*batch.columns, random_hex(batch.num_rows)],
                                         names=[*batch.schema.names, "review_id"])


def _review_ids(entries: DataFrame, tries: int = 3) -> DataFrame:
    """``entries`` with a random ``review_id`` each, drawn in the executors and held there
    (materialised: a recomputed partition would draw others); drawn again in the
    practically impossible case that two entries drew the same id."""
    from linkage.errors import LinkageError

    schema = StructType([*entries.schema.fields, StructField("review_id", StringType())])
    for _ in range(tries):
        listed = _checkpoint(entries.mapInArrow(_draw_review_ids, schema))
        rows, distinct = listed.agg(F.count(F.lit(1)), F.countDistinct("review_id")).first()
        if rows == distinct:
            return listed
        listed.unpersist()
    raise LinkageError("could not draw distinct review ids")


def _any_present(names: Sequence[str]):
    test = None
    for name in names:
        present = F.col(name).isNotNull()
        test = present if test is None else test | present
    return test
