"""Scoring candidate pairs: Dice levels per field, a Fellegi-Sunter model fitted by EM.

The model has, per field and level, m (the chance a true match shows that level) and u
(the chance a non-match does), and lambda, the share of matches among candidates. EM fits
them without labels; a pair's match weight is ``sum log2(m/u)`` over its non-missing fields.
EM runs over distinct comparison patterns, weighted by their counts: a million candidate
pairs have only a few thousand patterns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from linkage.fuzzy.bloom import Filters, dice

MISSING = -1
PAIR_CHUNK = 2_000_000
#: Fewer pairs than this per thread are compared on one: threads would cost more than they save.
MIN_THREAD_PAIRS = 100_000


def similarity_levels(sims: np.ndarray, cuts: Sequence[float], baseline: float = 0.0
                      ) -> np.ndarray:
    """Level of each similarity: ``len(cuts)`` for >= cuts[0] ... 0 below all; -1 for NaN.

    Cuts apply to the similarity rescaled so that ``baseline`` (the mean Dice of random
    pairs) is 0 and identity 1: filters of unrelated values still share bits (two random
    7-digit ids: Dice ~0.26), more so for short values, so raw cuts would crowd every
    pair into the top levels.

    >>> similarity_levels(np.array([1.0, 0.93, 0.1, np.nan]), (1.0, 0.9)).tolist()
    [2, 1, 0, -1]
    >>> similarity_levels(np.array([1.0, 0.95, 0.9]), (1.0, 0.5), baseline=0.9).tolist()
    [2, 1, 0]
    """
    if baseline:
        sims = (sims - baseline) / (1.0 - baseline)
    levels = np.zeros(len(sims), dtype=np.int8)
    for index, cut in enumerate(reversed(cuts), start=1):
        levels[sims >= cut - 1e-9] = index
    levels[np.isnan(sims)] = MISSING
    return levels


def field_similarity(left: Mapping[str, Filters], right: Mapping[str, Filters],
                     columns: Sequence[str], li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Dice similarity of one field: the best over its filters (one per salt) that both
    records have; NaN where none is shared.

    A pair whose birth year was mistyped has unrelated year-salted name filters, but its
    postcode-salted ones still agree: the best of the two is the field's similarity.
    """
    out = dice(left[columns[0]], right[columns[0]], li, ri)
    for column in columns[1:]:
        out = np.fmax(out, dice(left[column], right[column], li, ri))
    return out


def comparison_levels(left: Mapping[str, Filters], right: Mapping[str, Filters],
                      fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray,
                      cuts: Sequence[float], baselines: Mapping[str, float] | None = None,
                      *, workers: int = 1) -> np.ndarray:
    """``(pairs, fields)`` int8 levels (``fields``: field -> its filter columns), computed in
    chunks to bound memory.

    With ``workers`` > 1 the chunks run on that many threads (numpy's gathers, AND, popcount
    and sums release the GIL), each chunk ``PAIR_CHUNK / workers`` pairs, so the memory in
    flight is what one thread's chunk holds; each writes its own rows of the result, so
    the levels are the same whatever the threads.
    """
    baselines = baselines or {}
    out = np.empty((len(li), len(fields)), dtype=np.int8)
    workers = max(1, min(int(workers), -(-len(li) // MIN_THREAD_PAIRS)))
    step = max(PAIR_CHUNK // workers, 1)

    def chunk(start: int) -> None:
        stop = start + step
        for f, (name, columns) in enumerate(fields.items()):
            sims = field_similarity(left, right, columns, li[start:stop], ri[start:stop])
            out[start:stop, f] = similarity_levels(sims, cuts, baselines.get(name, 0.0))

    starts = range(0, len(li), step)
    if workers == 1:
        for start in starts:
            chunk(start)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compare") as pool:
            list(pool.map(chunk, starts))  # a chunk's error is raised here
    return out


def random_baselines(left: Mapping[str, Filters], right: Mapping[str, Filters],
                     fields: Mapping[str, Sequence[str]], li: np.ndarray, ri: np.ndarray
                     ) -> dict[str, float]:
    """Mean similarity per field over random pairs (nearly all non-matches)."""
    out = {}
    for name, columns in fields.items():
        sims = field_similarity(left, right, columns, li, ri)
        present = sims[~np.isnan(sims)]
        out[name] = round(float(present.mean()), 6) if len(present) else 0.0
    return out


@dataclass
class Model:
    """A fitted Fellegi-Sunter model: ``m[f, l]``, ``u[f, l]`` and ``lam``."""

    fields: list[str]
    m: np.ndarray
    u: np.ndarray
    lam: float
    iterations: int
    converged: bool

    def weights(self) -> np.ndarray:
        """log2(m/u) per field and level."""
        return np.log2(self.m / self.u)

    def score(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Match weight and posterior match probability of each pair."""
        table = np.vstack([self.weights().T, np.zeros(len(self.fields))])  # row -1 = missing
        weight = table[levels, np.arange(len(self.fields))].sum(axis=1)
        prior = np.log2(self.lam / (1 - self.lam))
        probability = 1.0 / (1.0 + np.exp2(-(weight + prior)))
        return weight, probability

    def to_dict(self, cuts: Sequence[float]) -> dict:
        names = ["below " + str(cuts[-1])] + [f">= {c}" for c in reversed(cuts)]
        names[-1] = "exact"
        weights = self.weights()
        return {
            "lambda": float(self.lam), "iterations": self.iterations,
            "converged": self.converged,
            "fields": {
                name: {names[level]: {"m": round(float(self.m[f, level]), 6),
                                      "u": round(float(self.u[f, level]), 6),
                                      "weight": round(float(weights[f, level]), 3)}
                       for level in range(self.m.shape[1])}
                for f, name in enumerate(self.fields)},
        }


def level_frequencies(levels: np.ndarray, n_levels: int) -> np.ndarray:
    """``(fields, levels)`` share of each level among non-missing values, add-one smoothed."""
    out = np.ones((levels.shape[1], n_levels))
    for f in range(levels.shape[1]):
        column = levels[:, f]
        out[f] += np.bincount(column[column >= 0], minlength=n_levels)[:n_levels]
    return out / out.sum(axis=1, keepdims=True)


def fit_em(levels: np.ndarray, n_levels: int, fields: list[str], *, expected_matches: float,
           u_start: np.ndarray | None = None, max_matches: float | None = None,
           iterations: int = 200, tolerance: float = 1e-7) -> Model:
    """Fit m, u and lambda by EM on unlabelled comparison levels.

    Starts from matches that mostly agree exactly and from ``u_start``, the level shares
    among random pairs (nearly all non-matches): that anchor keeps EM from swapping the two
    classes when, after blocking, most candidates are matches. ``expected_matches`` seeds
    lambda. ``max_matches`` caps it: linking one-to-one, two files cannot share more matches
    than the smaller has records, and without the cap EM can settle on "agrees on the
    blocking key" (every candidate of a large block) as the match class.
    """
    patterns, _, counts = pattern_index(levels)
    return fit_em_patterns(patterns, counts, n_levels, fields,
                           expected_matches=expected_matches, u_start=u_start,
                           max_matches=max_matches, iterations=iterations,
                           tolerance=tolerance)


#: Up to this many possible patterns, they are counted in one array indexed by pattern.
DENSE_PATTERNS = 1 << 22


def pattern_index(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of ``levels`` (comparison patterns) in ``np.unique(axis=0)``'s
    order, the pattern of each row, and how many rows have each.

    Each row is read as one number, its levels (-1 upwards) the digits: numbers sort as the
    rows do, so the order is ``np.unique``'s. Sorting rows as records took a minute at 15
    million candidate pairs; counting numbers takes a second or two.

    >>> patterns, inverse, counts = pattern_index(np.array([[1, -1], [0, 2], [1, -1]]))
    >>> patterns.tolist(), inverse.tolist(), counts.tolist()
    ([[0, 2], [1, -1]], [1, 0, 1], [1, 2])
    """
    levels = np.asarray(levels, dtype=np.int8)
    pairs, fields = levels.shape
    base = int(levels.max(initial=0)) + 2
    if pairs == 0 or base ** fields >= 1 << 62:
        patterns, inverse, counts = np.unique(levels, axis=0, return_inverse=True,
                                              return_counts=True)
        return patterns.reshape(-1, fields), inverse.reshape(-1), counts
    key = np.zeros(pairs, dtype=np.int64)
    for f in range(fields):
        key *= base
        key += levels[:, f] + 1
    if base ** fields <= DENSE_PATTERNS:
        every = np.bincount(key, minlength=base ** fields)
        keys = np.flatnonzero(every)
        lookup = np.zeros(base ** fields, dtype=np.int64)
        lookup[keys] = np.arange(len(keys))
        inverse, counts = lookup[key], every[keys]
    else:
        keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    patterns = np.empty((len(keys), fields), dtype=np.int8)
    for f in reversed(range(fields)):
        patterns[:, f] = keys % base - 1
        keys = keys // base
    return patterns, inverse.reshape(-1), counts


def distinct_patterns(patterns: np.ndarray, counts: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison patterns (rows) with their counts, in the order :func:`fit_em`
    takes them (:func:`pattern_index`'s): an engine that counted them elsewhere, in any
    order, gets the very same model from :func:`fit_em_patterns`."""
    patterns = np.asarray(patterns, dtype=np.int8).reshape(len(counts), -1)
    unique, inverse, _ = pattern_index(patterns)
    total = np.zeros(len(unique), dtype=np.int64)
    np.add.at(total, inverse, np.asarray(counts, dtype=np.int64))
    return unique, total


def fit_em_patterns(patterns: np.ndarray, counts: np.ndarray, n_levels: int,
                    fields: list[str], *, expected_matches: float,
                    u_start: np.ndarray | None = None, max_matches: float | None = None,
                    iterations: int = 200, tolerance: float = 1e-7) -> Model:
    """:func:`fit_em` over distinct patterns and their counts (from
    :func:`distinct_patterns`): all EM needs, whatever the number of pairs."""
    counts = np.asarray(counts).astype(np.float64)
    n_fields = patterns.shape[1]
    present = patterns >= 0
    onehot = np.zeros((len(patterns), n_fields, n_levels))
    rows, cols = np.nonzero(present)
    onehot[rows, cols, patterns[rows, cols]] = 1.0

    if u_start is None:
        u_start = np.tile(np.geomspace(1.0, 0.01, n_levels), (n_fields, 1))
    u = u_start / u_start.sum(axis=1, keepdims=True)
    m = np.tile(np.geomspace(0.01, 1.0, n_levels), (n_fields, 1))
    m /= m.sum(axis=1, keepdims=True)
    lam_max = 1 - 1e-9 if max_matches is None else float(
        np.clip(max_matches / counts.sum(), 1e-9, 1 - 1e-9))
    lam = float(np.clip(expected_matches / counts.sum(), 1e-6, min(0.9, lam_max)))
    converged = False
    iteration = 0
    for iteration in range(1, iterations + 1):  # noqa: B007
        log_ratio = np.einsum("pfl,fl->p", onehot, np.log(m) - np.log(u))
        p = 1.0 / (1.0 + np.exp(-(log_ratio + np.log(lam / (1 - lam)))))
        wm, wu = counts * p, counts * (1 - p)
        # A pseudo-count keeps every level possible: a level never seen must not be -inf.
        new_m = np.einsum("p,pfl->fl", wm, onehot) + 1e-3
        new_u = np.einsum("p,pfl->fl", wu, onehot) + 1e-3
        new_m /= new_m.sum(axis=1, keepdims=True)
        new_u /= new_u.sum(axis=1, keepdims=True)
        new_lam = float(np.clip(wm.sum() / counts.sum(), 1e-9, lam_max))
        change = max(np.abs(new_m - m).max(), np.abs(new_u - u).max(), abs(new_lam - lam))
        m, u, lam = new_m, new_u, new_lam
        if change < tolerance:
            converged = True
            break
    return Model(list(fields), m, u, lam, iteration, converged)


#: How many pairs' worth of the candidates' non-match shares (u) the non-matches among the
#: mutual-best pairs start from: until that many of them say otherwise, they are taken to
#: look like the candidates' non-matches.
MUTUAL_BEST_PRIOR_PAIRS = 1_000.0


def fit_mutual_best(model: Model, patterns: np.ndarray, counts: np.ndarray, *,
                    expected_matches: float, prior_pairs: float = MUTUAL_BEST_PRIOR_PAIRS,
                    iterations: int = 200, tolerance: float = 1e-7) -> Model:
    """The model among the mutual-best pairs (``counts``: how many of them have each of the
    distinct ``patterns``): the same m, with u and lambda fitted again by EM on them.

    Nearly every true match is a mutual-best pair, so m (how matches compare) holds there
    too, and the share of matches is far higher than among all candidates. But the
    non-matches that survive one-to-one are not a fair sample of the non-matches: a record
    with no true partner keeps its most alike candidate, such as a relative at the same
    address, so an exact address or a half-alike name is commoner among them than u says.
    Scored with the candidates' u, such a pair would borrow the odds of the true pairs
    around it. u starts from the candidates' as ``prior_pairs`` pairs' worth of evidence,
    so a handful of survivors (every record partnered, as in FEBRL4) cannot pull it away.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_fields, n_levels = model.m.shape
    present = patterns >= 0
    onehot = np.zeros((len(patterns), n_fields, n_levels))
    rows, cols = np.nonzero(present)
    onehot[rows, cols, patterns[rows, cols]] = 1.0
    total = max(counts.sum(), 1.0)
    log_m = np.log(model.m)
    prior = model.u * max(prior_pairs, 1e-9)
    u = model.u.copy()
    lam = float(np.clip(expected_matches / total, 1e-6, 1 - 1e-6))
    converged = False
    iteration = 0
    for iteration in range(1, iterations + 1):  # noqa: B007
        log_ratio = np.einsum("pfl,fl->p", onehot, log_m - np.log(u))
        p = 1.0 / (1.0 + np.exp(-(log_ratio + np.log(lam / (1 - lam)))))
        new_u = np.einsum("p,pfl->fl", counts * (1 - p), onehot) + prior
        new_u /= new_u.sum(axis=1, keepdims=True)
        new_lam = float(np.clip((counts * p).sum() / total, 1e-9, 1 - 1e-9))
        change = max(np.abs(new_u - u).max(), abs(new_lam - lam))
        u, lam = new_u, new_lam
        if change < tolerance:
            converged = True
            break
    return Model(list(model.fields), model.m, u, lam, iteration, converged)


@dataclass(frozen=True)
class Threshold:
    weight: float
    probability: float
    estimated_precision: float
    estimated_recall: float


def choose_threshold(weight: np.ndarray, probability: np.ndarray, *,
                     target_precision: float, min_probability: float,
                     expected_total: float) -> Threshold:
    """The lowest weight at which the accepted pairs' estimated precision still meets the
    target, never accepting a pair more likely a non-match than ``min_probability`` says.

    Estimated precision of a set is the mean match probability of its pairs; estimated
    recall is their summed probability over ``expected_total``, the model's match count.
    """
    order = np.argsort(-weight, kind="stable")
    p = probability[order]
    if not len(p):
        return Threshold(float("inf"), 1.0, 1.0, 0.0)
    precision = np.cumsum(p) / np.arange(1, len(p) + 1)
    ok = (precision >= target_precision) & (p >= min_probability)
    if not ok.any():
        return Threshold(float("inf"), 1.0, 1.0, 0.0)
    last = int(np.flatnonzero(ok)[-1])
    return Threshold(float(weight[order][last]), float(p[last]), float(precision[last]),
                     float(min(1.0, p[:last + 1].sum() / max(expected_total, 1e-9))))


def choose_threshold_counts(weight: np.ndarray, probability: np.ndarray,
                            counts: np.ndarray, *, target_precision: float,
                            min_probability: float, expected_total: float,
                            chunk: int = 1 << 20) -> Threshold:
    """:func:`choose_threshold` over distinct weights and how many pairs have each, as an
    engine that keeps the pairs elsewhere counts them: the same threshold.

    A pair's weight and probability are functions of its comparison pattern, so pairs of
    one pattern are alike and only their number matters (two patterns of exactly equal
    weight are taken in the order given, not interleaved as pairs may be). The running
    precision is summed one pair at a time, as ``np.cumsum`` does over the pairs (in
    chunks: memory stays flat), so the comparisons against the target are the same
    floating-point comparisons.
    """
    weight, probability = np.asarray(weight, np.float64), np.asarray(probability, np.float64)
    counts = np.asarray(counts, np.int64)
    keep = counts > 0
    weight, probability, counts = weight[keep], probability[keep], counts[keep]
    if not len(weight):
        return Threshold(float("inf"), 1.0, 1.0, 0.0)
    order = np.argsort(-weight, kind="stable")
    found = None
    total, done = 0.0, 0
    for w, p, n in zip(weight[order].tolist(), probability[order].tolist(),
                       counts[order].tolist(), strict=True):
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            sums = np.cumsum(np.r_[total, np.full(size, p)])[1:]
            precision = sums / np.arange(done + 1, done + size + 1)
            ok = (precision >= target_precision) & (p >= min_probability)
            if ok.any():
                last = int(np.flatnonzero(ok)[-1])
                found = (w, p, float(precision[last]), float(sums[last]))
            total, done = float(sums[-1]), done + size
    if found is None:
        return Threshold(float("inf"), 1.0, 1.0, 0.0)
    w, p, precision, summed = found
    return Threshold(float(w), float(p), precision,
                     float(min(1.0, summed / max(expected_total, 1e-9))))


def weight_histogram(weight: np.ndarray, bins: int = 40,
                     counts: np.ndarray | None = None) -> dict:
    """Histogram of the pairs' weights; ``counts``: how many pairs have each weight given
    (an engine that counted them elsewhere), else one pair each."""
    if not len(weight):
        return {"edges": [], "counts": []}
    hist, edges = np.histogram(weight, bins=bins, weights=counts)
    return {"edges": [round(float(e), 3) for e in edges],
            "counts": np.rint(hist).astype(np.int64).tolist()}
