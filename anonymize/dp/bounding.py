"""Bounding each person's contribution, the step that makes ``d_in`` a person-level bound.

A person (one ``privacy_unit`` value) may own several rows. Keeping at most
``max_contributions`` of them, chosen by fresh randomness that looks only at that person's
rows, means adding or removing one person changes the bounded data by at most that many rows:
the symmetric distance OpenDP's transformations take as ``d_in``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError


@dataclass(frozen=True)
class BoundedData:
    """Rows with each person's contribution bounded; the only input DP queries accept."""

    frame: pd.DataFrame
    privacy_unit: str | None
    max_contributions: int
    rows_dropped: int


def bound_contributions(df: pd.DataFrame, privacy_unit: str | None, max_contributions: int,
                        rng: np.random.Generator | None = None) -> BoundedData:
    """Keep at most ``max_contributions`` rows per person, chosen at random.

    Missing privacy units are one person between them, which is conservative.

    >>> df = pd.DataFrame({"link_id": [1, 1, 1, 2], "x": [1, 2, 3, 4]})
    >>> bound_contributions(df, "link_id", 2).rows_dropped
    1
    """
    if privacy_unit is None:
        return BoundedData(df, None, 1, 0)
    if privacy_unit not in df.columns:
        raise AnonymizeError(f"privacy unit column {privacy_unit!r} is not in the data "
                             f"(columns: {', '.join(map(str, df.columns))})")
    codes, _ = pd.factorize(df[privacy_unit], use_na_sentinel=False)
    if len(codes) == 0 or np.bincount(codes).max() <= max_contributions:
        return BoundedData(df, privacy_unit, max_contributions, 0)
    rng = rng or np.random.default_rng()
    order = rng.permutation(len(codes))
    # Rank of each row within its person, in random order: a stable sort by person keeps the
    # shuffled order inside each group.
    by_person = order[np.argsort(codes[order], kind="stable")]
    sorted_codes = codes[by_person]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    rank = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    keep = np.sort(by_person[rank < max_contributions])
    kept = df.iloc[keep]
    return BoundedData(kept, privacy_unit, max_contributions, len(df) - len(kept))
