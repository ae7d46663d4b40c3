"""The per-person disclosure check: a QI-unique person's sensitive values read back.

An attacker who knows someone's quasi-identifiers (시도, 시군구, sex, birth year) and that they
are the only such person in the training data looks for synthetic rows with those values. If
such a row also carries that person's sensitive values, the release has disclosed them,
however good the averages look. An agreement counts only when the real data's own marginals
would produce it less often than ``chance`` (a numeric value within ``rank_tolerance`` of the
person's, in rank among real rows, has probability about twice that; a category its share).

Even so, a synthesizer that never saw these people agrees now and then: among 6,000 rows of
people outside the training data, 3 matched a training person unique on (시도, 시군구, sex,
birth year) on income and benefit. So the same matching is run on the holdout, people the
synthesizer never saw, and the release fails when its matches exceed what the holdout's rate
explains (a one-sided 99.9 % Poisson bound): beyond that, an attacker reading values off
matching rows is right more often than chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class UniqueMatches:
    """Matches of synthetic rows, and of holdout rows (the chance baseline), scaled."""

    synthetic: int
    expected: float  # holdout matches per row x synthetic rows
    limit: int  # the most chance explains (99.9 %)

    @property
    def excess(self) -> bool:
        return self.synthetic > self.limit


def disclosure_check(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                     quasi_identifiers: Sequence[str], sensitive: Sequence[str], *,
                     rank_tolerance: float = 0.001, chance: float = 0.01,
                     allowed: int = 0) -> UniqueMatches:
    """Synthetic matches of train's QI-unique people against the holdout's chance rate."""
    kw = {"rank_tolerance": rank_tolerance, "chance": chance}
    found = unique_person_matches(train, synthetic, quasi_identifiers, sensitive, **kw)
    baseline = unique_person_matches(train, holdout, quasi_identifiers, sensitive, **kw)
    expected = baseline * len(synthetic) / max(len(holdout), 1)
    return UniqueMatches(found, expected, max(_poisson_upper(expected, 0.999), allowed))


def _poisson_upper(mean: float, level: float) -> int:
    """The smallest k with P(X <= k) >= level for X ~ Poisson(mean).

    >>> _poisson_upper(0.0, 0.999), _poisson_upper(3.0, 0.999)
    (0, 10)
    """
    term = total = math.exp(-mean)
    k = 0
    while total < level:
        k += 1
        term *= mean / k
        total += term
    return k


def unique_person_matches(real: pd.DataFrame, synthetic: pd.DataFrame,
                          quasi_identifiers: Sequence[str], sensitive: Sequence[str], *,
                          rank_tolerance: float = 0.001, chance: float = 0.01) -> int:
    """Rows of ``synthetic`` that match a QI-unique person of ``real`` on every sensitive
    value.

    >>> real = pd.DataFrame({"area": ["a", "b", "b"], "income": [100, 5, 7]})
    >>> synthetic = pd.DataFrame({"area": ["a", "a", "b"], "income": [100, 300, 5]})
    >>> unique_person_matches(real, synthetic, ["area"], ["income"], rank_tolerance=0.1,
    ...                       chance=0.5)
    1
    """
    qi, sens = list(quasi_identifiers), list(sensitive)
    key = real[qi].astype(str).agg("\x1f".join, axis=1)
    unique = real[~key.duplicated(keep=False)]
    if unique.empty or synthetic.empty:
        return 0
    as_text = {c: str for c in qi}
    candidates = (synthetic[qi + sens].astype(as_text).reset_index(drop=True)
                  .assign(_row=np.arange(len(synthetic))))
    people = unique[qi + sens].astype(as_text).reset_index(drop=True)
    joined = candidates.merge(people, on=qi, suffixes=("", "_person"), how="inner")
    if joined.empty:
        return 0
    probability = np.ones(len(joined))
    agree = np.ones(len(joined), dtype=bool)
    for col in sens:
        mine, theirs = joined[col], joined[f"{col}_person"]
        if _is_number(real[col]):
            ranked = np.sort(real[col].dropna().to_numpy(dtype=float))
            rank = np.searchsorted(ranked, mine.to_numpy(dtype=float)) / len(ranked)
            their_rank = np.searchsorted(ranked, theirs.to_numpy(dtype=float)) / len(ranked)
            agree &= np.abs(rank - their_rank) <= rank_tolerance
            # Within the tolerance either side, plus the share of rows tied with the person.
            tied = pd.Series(theirs).map(real[col].value_counts(normalize=True)).fillna(0.0)
            probability *= np.maximum(2 * rank_tolerance, tied.to_numpy())
        else:
            agree &= (mine.astype(str) == theirs.astype(str)).to_numpy()
            share = real[col].astype(str).value_counts(normalize=True)
            probability *= theirs.astype(str).map(share).fillna(0.0).to_numpy()
    disclosed = agree & (probability < chance)
    return int(joined.loc[disclosed, "_row"].nunique())


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
