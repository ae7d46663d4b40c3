"""Resolution: which candidate pairs may link at all, given how many links a record may have.

One-to-one: a record links to at most one record of the other holder. Many-to-one: each
record of the right holder links to at most one of the left's, which may take several.
"""

from __future__ import annotations

import numpy as np

#: Below this many pairs left, the greedy loop finishes in Python: a round over arrays
#: costs about as much as looping over this many pairs.
LOOP_PAIRS = 20_000
#: A round that leaves more than this share of the pairs is the last: on a long chain of
#: conflicts (each pair outweighing the next) rounds would keep one pair each.
SLOW_ROUND = 0.9


def greedy_one_to_one(left: np.ndarray, right: np.ndarray, weight: np.ndarray, *,
                      order: np.ndarray | None = None) -> np.ndarray:
    """Indices of the pairs kept: best weight first, skipping pairs whose records are taken.

    Greedy by weight is what a clerk would do and, on the sparse conflict graphs blocking
    leaves, it agrees with the optimal assignment almost always. ``order`` (the pairs by
    weight, best first, equals in index order: ``np.argsort(-weight, kind="stable")``)
    may come from a caller that can sort faster, as :func:`weight_order` does.

    >>> greedy_one_to_one(np.array([0, 0, 1]), np.array([0, 1, 1]),
    ...                   np.array([5.0, 9.0, 7.0])).tolist()
    [1]
    """
    if order is None:
        order = np.argsort(-weight, kind="stable")
    return np.sort(_dominant_rounds(np.asarray(left), np.asarray(right), order))


def weight_order(pattern_weight: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """``np.argsort(-weight, kind="stable")`` of ``weight = pattern_weight[inverse]``,
    sorted as small integers: millions of pairs share a few hundred comparison patterns,
    and a stable sort of 16-bit keys is a radix sort, a fraction of a float sort's time.

    >>> weight_order(np.array([1.0, 3.0, 1.0]), np.array([0, 1, 2, 1])).tolist()
    [1, 3, 0, 2]
    """
    distinct, rank = np.unique(-pattern_weight, return_inverse=True)
    small = np.int16 if len(distinct) < 1 << 15 else np.int64
    return np.argsort(rank.astype(small)[inverse], kind="stable")


def _dominant_rounds(left: np.ndarray, right: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Greedy matching as rounds of locally dominant pairs, then a loop over the rest.

    A pair that comes first (in ``order``) among the remaining pairs of both its records is
    one the greedy loop keeps, and every pair touching its records is one the loop skips:
    keeping all such pairs at once, dropping those they exclude and repeating gives the
    loop's answer exactly. Each round is a few passes over arrays; at millions of pairs
    nearly every match is kept in the first rounds, and the loop sees the few left.
    """
    kept: list[np.ndarray] = []
    remaining = order
    n_left = int(left.max(initial=-1)) + 1
    n_right = int(right.max(initial=-1)) + 1
    taken_left = np.zeros(n_left, dtype=bool)
    taken_right = np.zeros(n_right, dtype=bool)
    while len(remaining) > LOOP_PAIRS:
        before = len(remaining)
        a, b = left[remaining], right[remaining]
        place = np.arange(len(remaining))
        first_left = np.full(n_left, len(remaining))
        first_right = np.full(n_right, len(remaining))
        np.minimum.at(first_left, a, place)
        np.minimum.at(first_right, b, place)
        dominant = (first_left[a] == place) & (first_right[b] == place)
        chosen = remaining[dominant]
        kept.append(chosen)
        taken_left[left[chosen]] = True
        taken_right[right[chosen]] = True
        remaining = remaining[~(taken_left[a] | taken_right[b])]
        if len(remaining) > SLOW_ROUND * before:
            break
    kept.append(_greedy_loop(left, right, remaining))
    return np.concatenate(kept).astype(np.int64)


def _greedy_loop(left: np.ndarray, right: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The greedy loop itself, over pairs none of whose records is taken yet."""
    used_left: set[int] = set()
    used_right: set[int] = set()
    kept = []
    for index, a, b in zip(order.tolist(), left[order].tolist(), right[order].tolist(),
                           strict=True):
        if a in used_left or b in used_right:
            continue
        used_left.add(a)
        used_right.add(b)
        kept.append(index)
    return np.array(kept, dtype=np.int64)


def best_per_right(left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Indices of the pairs kept when only right records are limited to one link: each right
    record's best-weighted candidate (the first of equals).

    >>> best_per_right(np.array([0, 1, 0]), np.array([0, 0, 1]),
    ...                np.array([5.0, 9.0, 7.0])).tolist()
    [1, 2]
    """
    if not len(right):
        return np.array([], dtype=np.int64)
    order = np.lexsort((np.arange(len(weight)), -weight, right))
    first = np.r_[True, right[order][1:] != right[order][:-1]]
    return np.sort(order[first]).astype(np.int64)
