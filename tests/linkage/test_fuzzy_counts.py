"""An engine that keeps the candidate pairs in its own workers hands the driver only the
distinct comparison patterns and how many pairs have each: the model, threshold and
histogram it then decides must be those the one-machine path decides over every pair."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.fuzzy.scoring import (
    choose_threshold,
    choose_threshold_counts,
    distinct_patterns,
    fit_em,
    fit_em_patterns,
    mutual_best_probability,
    weight_histogram,
)


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
    probability, _ = mutual_best_probability(weight, 8_000, len(weight))
    expected = choose_threshold(weight, probability, target_precision=target,
                                min_probability=0.5, expected_total=8_000)
    values, counts = np.unique(weight, return_counts=True)
    value_probability, _ = mutual_best_probability(values, 8_000, len(weight))
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
