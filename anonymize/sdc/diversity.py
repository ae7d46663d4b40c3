"""Per-class l-diversity and t-closeness of one sensitive attribute, without a loop over classes.

Everything is computed from the sparse list of (class, value, count) pairs, so the cost grows
with the number of distinct pairs, never with classes × values. The definitions are pyCANON's
(Sáinz-Pardo Díaz and López García, 2022), so that our numbers agree with that reference:

* distinct l: number of distinct sensitive values in the class;
* entropy l: ``exp(H)`` with ``H = -Σ q log q`` (natural log) over the class's value shares
  (Machanavajjhala et al. 2007: a class is entropy l-diverse iff ``H >= log l``, so the largest
  such l is ``exp(H)``; pyCANON then truncates it to an integer, we keep the real number);
* t-closeness, Earth Mover's Distance between the class's distribution q and the table's p
  (Li, Li and Venkatasubramanian 2007): for an ordered attribute, the ordered distance
  ``1/(m-1) Σ_i |Σ_{j<=i} (q_j - p_j)|`` over the m distinct values of the table in sorted order;
  for a categorical one, equal distance ``½ Σ |q_j - p_j|``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ClassPairs:
    """The (class, value) pairs present in the data, sorted by class then value code."""

    cls: np.ndarray  # class id of each pair
    code: np.ndarray  # value code of each pair, 0..m-1 in the attribute's order
    share: np.ndarray  # the value's share of its class (q)
    classes: int
    m: int  # distinct values in the whole table
    p: np.ndarray  # the table's distribution over the m values


def class_pairs(class_ids: np.ndarray, class_sizes: np.ndarray, codes: np.ndarray,
                m: int) -> ClassPairs:
    """Count each (class, value) pair once; ``codes`` are per-record value codes in 0..m-1."""
    key = class_ids.astype(np.int64) * m + codes.astype(np.int64)
    pair_keys, counts = np.unique(key, return_counts=True)
    cls = pair_keys // m
    code = pair_keys % m
    p = np.bincount(codes, minlength=m) / len(codes)
    return ClassPairs(cls=cls, code=code, share=counts / class_sizes[cls],
                      classes=len(class_sizes), m=m, p=p)


def distinct_l(pairs: ClassPairs) -> np.ndarray:
    """Distinct sensitive values per class."""
    return np.bincount(pairs.cls, minlength=pairs.classes)


def entropy_l(pairs: ClassPairs) -> np.ndarray:
    """``exp(entropy)`` per class: the effective number of sensitive values."""
    q = pairs.share
    entropy = -np.bincount(pairs.cls, weights=q * np.log(q), minlength=pairs.classes)
    return np.exp(entropy)


def equal_distance_emd(pairs: ClassPairs) -> np.ndarray:
    """Half the L1 distance per class; values absent from a class contribute their share of p."""
    p_present = pairs.p[pairs.code]
    present = np.bincount(pairs.cls, weights=np.abs(pairs.share - p_present),
                          minlength=pairs.classes)
    absent = 1.0 - np.bincount(pairs.cls, weights=p_present, minlength=pairs.classes)
    return 0.5 * (present + np.clip(absent, 0.0, None))


def ordered_emd(pairs: ClassPairs) -> np.ndarray:
    """Ordered EMD per class, summing ``|F_q(i) - P(i)|`` segment by segment.

    Between two values present in a class the class's cumulative share F_q is constant while
    the table's cumulative share P rises; since P is sorted, each segment's sum of absolute
    differences splits at one ``searchsorted`` point and reads off prefix sums of P.
    """
    m = pairs.m
    if m < 2:
        # One value in the whole table: every class has the table's distribution.
        return np.zeros(pairs.classes)
    big_p = np.cumsum(pairs.p)
    prefix = np.concatenate(([0.0], np.cumsum(big_p)))  # prefix[i] = Σ_{j<i} P(j)

    cls, code = pairs.cls, pairs.code
    f_q = pd.Series(pairs.share).groupby(cls).cumsum().to_numpy()
    same_class_next = np.append(cls[1:] == cls[:-1], False)
    start = code
    end = np.where(same_class_next, np.append(code[1:], m), m)
    split = np.clip(np.searchsorted(big_p, f_q, side="left"), start, end)
    segment = (f_q * (split - start) - (prefix[split] - prefix[start])
               + (prefix[end] - prefix[split]) - f_q * (end - split))
    total = np.bincount(cls, weights=segment, minlength=pairs.classes)

    # Before a class's first value F_q is 0, so the segment adds Σ P(i) for i < first code.
    first = np.flatnonzero(np.insert(cls[1:] != cls[:-1], 0, True))
    total[cls[first]] += prefix[code[first]]
    # Prefix-sum differences can cancel to a hair below zero where q equals p.
    return np.clip(total / (m - 1), 0.0, None)
