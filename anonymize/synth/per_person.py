"""The per-person disclosure check: a QI-unique person's sensitive values read back.

An attacker who knows someone's quasi-identifiers (시도, 시군구, sex, birth year) and that they
are the only such person in the data looks for synthetic rows with those values. If such a
row also carries that person's sensitive values, the release has disclosed them, however
good the averages look. A match by chance is expected now and then (a synthesizer reproduces
common values), so a row counts only when the real data's own marginals would produce that
agreement less often than ``chance``: a numeric value within ``rank_tolerance`` of the
person's (in rank among real rows) has probability about twice that, a category its share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def unique_person_matches(real: pd.DataFrame, synthetic: pd.DataFrame,
                          quasi_identifiers: Sequence[str], sensitive: Sequence[str], *,
                          rank_tolerance: float = 0.001, chance: float = 0.01) -> int:
    """Synthetic rows that match a QI-unique real person on every sensitive value.

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
