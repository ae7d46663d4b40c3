"""The default similarity levels tell a one-jamo typo of a name from a different name that
merely shares the surname and a jamo or two (김순애 / 김숙자).

At a million people the two sat in one level (rescaled Dice 0.5 to 0.7), whose weight was
then about zero: four pairs with such names, the same street address and different phones
linked falsely in bench/fuzzy_scale.py, where Splink, whose Levenshtein and Jaro-Winkler
levels tell the two apart, linked none (issue 18).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from linkage.fuzzy.bloom import dice, encode, from_arrow, to_arrow
from linkage.fuzzy.params import ENCODINGS, FuzzyParams
from linkage.fuzzy.scoring import similarity_levels
from linkage.synthdata.codepoints import to_strings
from linkage.synthdata.names import jamo_typo, sample_names

KEY = bytes(range(32))


def _filters(names: np.ndarray):
    values = to_strings(names)
    salts = pa.array(["서울특별시 종로구 은행나무길 12"] * len(values))
    packed, valid = encode(values, ENCODINGS["name"], KEY, "fixed_weight", salts, "address")
    return from_arrow(to_arrow(packed, valid))


def _sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return sample_names(rng, rng.random(n) < 0.5, rng.integers(1940, 2020, n))


def test_a_typo_and_a_half_alike_name_fall_in_different_levels():
    rng = np.random.default_rng(0)
    names, surname = _sample(rng, 3_000)
    # Every pair of different people with the same surname, as blocking on the surname
    # gives: a few are half alike.
    key = [tuple(row[:n]) for row, n in zip(names.tolist(), surname.tolist(), strict=True)]
    by_surname: dict[tuple, list[int]] = {}
    for index, k in enumerate(key):
        by_surname.setdefault(k, []).append(index)
    pairs = np.array([(a, b) for group in by_surname.values()
                      for n, a in enumerate(group) for b in group[n + 1:]])
    distinct = (names[pairs[:, 0]] != names[pairs[:, 1]]).any(axis=1)
    li, ri = pairs[distinct, 0], pairs[distinct, 1]
    filters, typos = _filters(names), _filters(jamo_typo(rng, names))
    index = np.arange(len(names))
    baseline = float(np.nanmean(dice(filters, filters, index, np.roll(index, 1))))
    levels = FuzzyParams().levels
    typo = similarity_levels(dice(filters, typos, index, index), levels, baseline)
    half = similarity_levels(dice(filters, filters, li, ri), levels, baseline)
    alike = half[half >= similarity_levels(np.array([0.5]), levels)[0]]  # at least half alike
    assert len(alike) >= 100  # the case is not vacuous
    crowded = np.bincount(alike).argmax()
    # Most typos sit above the level most half-alike names fall in; few share it.
    assert (typo > crowded).mean() >= 0.85
    assert (typo == crowded).mean() <= 0.15
