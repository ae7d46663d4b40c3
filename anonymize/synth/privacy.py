"""Privacy checks on synthetic rows before release."""

from __future__ import annotations

import pandas as pd


def exact_copies(real: pd.DataFrame, synthetic: pd.DataFrame) -> int:
    """How many synthetic rows equal some real row on every shared column.

    Each synthetic row counts once, however many real rows it matches; missing values match
    missing values, and ``1`` matches ``1.0`` (the synthesizer may change a column's dtype).

    >>> real = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    >>> exact_copies(real, pd.DataFrame({"a": [1.0, 1.0, 3.0], "b": ["x", "x", "x"]}))
    2
    """
    columns = [col for col in synthetic.columns if col in real.columns]
    if not columns or synthetic.empty or real.empty:
        return 0
    distinct_real = real[columns].drop_duplicates()
    matched = synthetic[columns].merge(distinct_real, on=columns, how="inner")
    return len(matched)
