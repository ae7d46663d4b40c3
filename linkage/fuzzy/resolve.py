"""Resolution: which candidate pairs may link at all, given how many links a record may have.

One-to-one: a record links to at most one record of the other holder. Many-to-one: each
record of the right holder links to at most one of the left's, which may take several.
"""

from __future__ import annotations

import numpy as np


def greedy_one_to_one(left: np.ndarray, right: np.ndarray, weight: np.ndarray
                      ) -> np.ndarray:
    """Indices of the pairs kept: best weight first, skipping pairs whose records are taken.

    Greedy by weight is what a clerk would do and, on the sparse conflict graphs blocking
    leaves, it agrees with the optimal assignment almost always.

    >>> greedy_one_to_one(np.array([0, 0, 1]), np.array([0, 1, 1]),
    ...                   np.array([5.0, 9.0, 7.0])).tolist()
    [1]
    """
    order = np.argsort(-weight, kind="stable")
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
    return np.array(sorted(kept), dtype=np.int64)


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
