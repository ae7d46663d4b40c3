"""One-to-one resolution in rounds of locally dominant pairs keeps exactly the pairs the
greedy loop (best weight first, equals in index order) keeps, whatever the conflicts."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.fuzzy import resolve
from linkage.fuzzy.resolve import greedy_one_to_one, weight_order


def greedy_loop(left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> list[int]:
    """The rule itself, written plainly: what a clerk does with a sorted list."""
    used_left, used_right, kept = set(), set(), []
    for index in sorted(range(len(weight)), key=lambda i: (-weight[i], i)):
        if left[index] in used_left or right[index] in used_right:
            continue
        used_left.add(left[index])
        used_right.add(right[index])
        kept.append(index)
    return sorted(kept)


@pytest.fixture
def rounds_from_the_first_pair(monkeypatch):
    """Rounds run down to the last pair, so small graphs exercise them, not the loop."""
    monkeypatch.setattr(resolve, "LOOP_PAIRS", 0)


@pytest.mark.parametrize("seed", range(6))
def test_rounds_keep_the_greedy_loops_pairs_on_ties_and_dense_conflicts(
        seed, rounds_from_the_first_pair):
    rng = np.random.default_rng(seed)
    # Few distinct weights: most choices fall to the tie rule (index order).
    pairs = rng.integers(0, 40 + 20 * seed, (800, 2))
    left, right = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
    weight = rng.integers(0, 3 + seed, len(pairs)).astype(np.float64)
    expected = greedy_loop(left, right, weight)
    assert len(expected) > 20
    assert greedy_one_to_one(left, right, weight).tolist() == expected
    patterns, inverse = np.unique(weight, return_inverse=True)
    order = weight_order(patterns, inverse)
    assert greedy_one_to_one(left, right, weight, order=order).tolist() == expected


def test_a_chain_of_conflicts_stops_rounds_and_still_matches_the_loop(
        rounds_from_the_first_pair):
    # (0,0) 10 > (1,0) 9 > (1,1) 8 > (2,1) 7 ...: each round could keep only the head.
    n = 400
    left = np.repeat(np.arange(n), 2)[1:-1].astype(np.int32)
    right = np.repeat(np.arange(n), 2)[:-2].astype(np.int32)
    weight = -np.arange(len(left), dtype=np.float64)
    assert greedy_one_to_one(left, right, weight).tolist() == greedy_loop(left, right, weight)


def test_weight_order_is_the_stable_descending_sort_of_the_weights():
    rng = np.random.default_rng(7)
    pattern_weight = rng.normal(size=300).round(1)  # repeated values across patterns
    inverse = rng.integers(0, 300, 50_000)
    weight = pattern_weight[inverse]
    assert np.array_equal(weight_order(pattern_weight, inverse),
                          np.argsort(-weight, kind="stable"))


def test_no_pairs_keep_none():
    empty = np.array([], dtype=np.int32)
    assert greedy_one_to_one(empty, empty, np.array([])).tolist() == []
