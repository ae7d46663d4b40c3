"""An engine that keeps the candidate pairs in its own workers hands the driver only the
distinct comparison patterns and how many pairs have each: the model, threshold and
histogram it then decides must be those the one-machine path decides over every pair."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.fuzzy import scoring
from linkage.fuzzy.scoring import (
    Model,
    choose_threshold,
    choose_threshold_counts,
    distinct_patterns,
    fit_em,
    fit_em_patterns,
    fit_mutual_best,
    weight_histogram,
)


def _probability(weight: np.ndarray) -> np.ndarray:
    """A match probability that rises with the weight, as the model's does."""
    return 1.0 / (1.0 + np.exp2(-(weight + 1.0)))


def _levels(seed: int, pairs: int = 5_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Mostly non-matches (low levels), some matches (high levels), some missing fields.
    match = rng.random(pairs) < 0.3
    levels = np.where(match[:, None], rng.integers(2, 4, (pairs, 4)),
                      rng.integers(0, 3, (pairs, 4))).astype(np.int8)
    levels[rng.random((pairs, 4)) < 0.05] = -1
    return levels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_from_pattern_counts_in_any_order_is_the_model_from_every_pair(seed):
    levels = _levels(seed)
    whole = fit_em(levels, 4, ["a", "b", "c", "d"], expected_matches=1000.0,
                   max_matches=2000.0)
    # As an engine counts them: distinct patterns in whatever order its shuffle gives.
    patterns, counts = np.unique(levels, axis=0, return_counts=True)
    shuffle = np.random.default_rng(seed + 10).permutation(len(patterns))
    ordered, total = distinct_patterns(patterns[shuffle], counts[shuffle])
    counted = fit_em_patterns(ordered, total, 4, ["a", "b", "c", "d"],
                              expected_matches=1000.0, max_matches=2000.0)
    assert np.array_equal(counted.m, whole.m) and np.array_equal(counted.u, whole.u)
    assert counted.lam == whole.lam
    pair_weight, _ = whole.score(levels)
    pattern_weight, _ = counted.score(ordered)
    # A pair's weight is its pattern's, bit for bit.
    index = {tuple(p): w for p, w in zip(ordered.tolist(), pattern_weight, strict=True)}
    assert all(index[tuple(p)] == w for p, w in zip(levels.tolist(), pair_weight,
                                                    strict=True))
    assert (weight_histogram(pattern_weight, counts=total)
            == weight_histogram(pair_weight))


@pytest.mark.parametrize("target", [0.9, 0.99, 0.999])
def test_threshold_from_weight_counts_is_the_threshold_over_every_pair(target):
    rng = np.random.default_rng(int(target * 1000))
    # Few distinct weights, many pairs each: ties everywhere, as patterns give.
    distinct = np.round(rng.normal(5, 6, 60), 3)
    weight = distinct[rng.integers(0, len(distinct), 20_000)]
    probability = _probability(weight)
    expected = choose_threshold(weight, probability, target_precision=target,
                                min_probability=0.5, expected_total=8_000)
    values, counts = np.unique(weight, return_counts=True)
    value_probability = _probability(values)
    got = choose_threshold_counts(values, value_probability, counts, target_precision=target,
                                  min_probability=0.5, expected_total=8_000, chunk=977)
    assert (got.weight, got.probability, got.estimated_precision) == (
        expected.weight, expected.probability, expected.estimated_precision)
    assert got.estimated_recall == pytest.approx(expected.estimated_recall, rel=1e-12)
    assert expected.weight < np.inf  # the case is not vacuous


def test_threshold_from_counts_accepts_nothing_when_no_pair_is_likely_enough():
    got = choose_threshold_counts(np.array([-3.0]), np.array([0.1]), np.array([50]),
                                  target_precision=0.99, min_probability=0.5,
                                  expected_total=10)
    assert got.weight == np.inf and got.estimated_recall == 0.0


def _three_fields() -> Model:
    """A candidates' model over name, phone and address (levels: below, half alike, exact)
    as a million people give it: an exact address is rare among candidate non-matches."""
    m = np.array([[0.01, 0.04, 0.95], [0.03, 0.01, 0.96], [0.02, 0.03, 0.95]])
    u = np.array([[0.90, 0.02, 0.08], [0.98, 0.01, 0.01], [0.80, 0.19, 0.01]])
    return Model(["name", "phone", "address"], m, u, 0.03, 10, True)


def _one_share(model: Model, patterns: np.ndarray, matches: float, pairs: float) -> np.ndarray:
    """The re-basing this replaced: the candidates' weights, at one match share over all
    mutual-best pairs."""
    share = matches / pairs
    weight, _ = model.score(patterns)
    return 1 / (1 + np.exp2(-(weight + np.log2(share / (1 - share)))))


def test_a_pair_mutual_best_for_want_of_a_partner_is_not_lent_the_true_pairs_odds():
    # Issue 18, a million people: records with no true partner keep their most alike
    # candidate, often someone at the same address. One was 이은진 / 이은순: the same
    # address, names half alike, phones different, no RRN. Weighed with the candidates' u
    # at one share over all mutual-best pairs, it linked (the one false pair of 500,541).
    model = _three_fields()
    patterns = np.array([[2, 2, 2],    # true pairs
                         [1, 2, 2],    # true pairs with a name typo
                         [0, 0, 2],    # strangers at one address
                         [1, 0, 2],    # relatives at one address: the false pair's
                         [0, 0, 0]], dtype=np.int8)
    survivors = np.array([10_000, 300, 5_000, 200, 4_500])
    matches = 10_300.0
    before = _one_share(model, patterns, matches, survivors.sum())
    assert before[3] > 0.5  # the case is not vacuous: it linked
    among = fit_mutual_best(model, patterns, survivors, expected_matches=matches)
    _, probability = among.score(patterns)
    assert probability[3] < 0.5, "a relative at the same address linked"
    assert (probability[:2] > 0.99).all() and (probability[2:] < 0.5).all()
    assert among.lam == pytest.approx(matches / survivors.sum(), rel=0.01)
    assert np.array_equal(among.m, model.m)  # how matches compare is unchanged


def test_when_every_record_has_a_partner_the_few_weak_true_pairs_still_link():
    # FEBRL4: all 5,000 mutual-best pairs are true, two of them agreeing only on surname
    # and address. A handful of survivors must not refit u around themselves.
    model = _three_fields()
    patterns = np.array([[2, 2, 2], [1, 0, 2]], dtype=np.int8)
    survivors = np.array([4_998, 2])
    among = fit_mutual_best(model, patterns, survivors, expected_matches=5_000.0)
    _, probability = among.score(patterns)
    assert (probability > 0.9).all()


@pytest.mark.parametrize("dense", [True, False])
def test_patterns_counted_as_numbers_are_numpys_distinct_rows(monkeypatch, dense):
    # The model's input must not depend on how the patterns were counted: the same rows,
    # order, inverse and counts as np.unique over the rows, missing levels (-1) included.
    if not dense:
        monkeypatch.setattr(scoring, "DENSE_PATTERNS", 0)
    levels = _levels(7, pairs=20_000)
    levels[::7, 0] = 6
    patterns, inverse, counts = scoring.pattern_index(levels)
    expected, expected_inverse, expected_counts = np.unique(
        levels, axis=0, return_inverse=True, return_counts=True)
    assert np.array_equal(patterns, expected) and patterns.dtype == np.int8
    assert np.array_equal(inverse, expected_inverse.reshape(-1))
    assert np.array_equal(counts, expected_counts)
    assert np.array_equal(patterns[inverse], levels)


def test_comparison_on_several_threads_gives_the_levels_of_one(monkeypatch):
    """Issue 21: the chunks of the candidate pairs are compared on several threads, each
    writing its own rows; the levels must be the same, chunk edges and missing filters
    included."""
    from linkage.fuzzy.bloom import Filters

    rng = np.random.default_rng(5)
    n = 300

    def filters() -> Filters:
        words = rng.integers(0, 2 ** 63, (n, 4), dtype=np.uint64)
        return Filters(words, np.bitwise_count(words).sum(axis=1).astype(np.int64),
                       rng.random(n) > 0.1)

    left = {"a": filters(), "b": filters(), "c": filters()}
    right = {"a": filters(), "b": filters(), "c": filters()}
    # Near-copies, so that every level is reached, not only the bottom ones.
    right["a"].words[:] = left["a"].words ^ (rng.random((n, 4)) < 0.02).astype(np.uint64)
    right["a"].counts[:] = np.bitwise_count(right["a"].words).sum(axis=1)
    fields = {"name": ["a", "b"], "phone": ["c"]}
    li, ri = rng.integers(0, n, 10_007), rng.integers(0, n, 10_007)
    li[:3000] = ri[:3000]
    cuts = (1.0, 0.85, 0.7, 0.6, 0.5, 0.3)
    monkeypatch.setattr(scoring, "PAIR_CHUNK", 1_000)
    monkeypatch.setattr(scoring, "MIN_THREAD_PAIRS", 10)
    one = scoring.comparison_levels(left, right, fields, li, ri, cuts, {"name": 0.3})
    assert len(np.unique(one[:, 0])) >= 4  # the levels are spread, so the test can fail
    for workers in (2, 3, 16):
        many = scoring.comparison_levels(left, right, fields, li, ri, cuts, {"name": 0.3},
                                         workers=workers)
        assert np.array_equal(one, many), workers
