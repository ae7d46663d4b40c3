"""The airlock's magnitude-table rules give ACRO's verdicts, cell by cell, on the same data.

ACRO (the SACRO project's output checker, used by UK trusted research environments) runs
its checks on microdata inside the session; pseudolink's airlock runs them on the table file
with its evidence columns. Same defaults (threshold 10, n=2 k=0.9, p 10%), same verdicts.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from acro import ACRO

from anonymize import OutputThresholds, check_output_file
from anonymize.outputs import check_magnitude_table, magnitude_table

ACRO_TO_OURS = {"MinimumThresholdCheck": "min_cell_count", "NKCheck": "dominance",
                "PPercentCheck": "p_percent"}
RULES = frozenset(ACRO_TO_OURS.values())


def _cells(seed: int) -> pd.DataFrame:
    """Cells of every sort: few contributors, one or two giants, near-ties, spread, ties."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(40):
        size = int(rng.choice([1, 2, 3, 5, 9, 10, 11, 14, 25, 60]))
        values = rng.lognormal(7, rng.choice([0.2, 1.0, 2.5]), size).round()
        shape = rng.integers(5)
        if shape == 1 and size > 2:
            values[0] = values[1:].sum() * rng.choice([3, 9, 20, 40])  # one giant
        elif shape == 2 and size > 3:
            values[:2] = values[2:].sum() * rng.choice([2, 4, 10])  # two giants
        elif shape == 3:
            values[:] = 100.0  # all equal
        parts.append(pd.DataFrame({"cell": f"c{i:02d}", "income": np.maximum(values, 1.0)}))
    return pd.concat(parts, ignore_index=True)


def _acro_failures(df: pd.DataFrame) -> dict[str, set[str]]:
    logging.getLogger("acro").setLevel(logging.WARNING)
    session = ACRO(suppress=False)
    session.pivot_table(df, index="cell", values="income", aggfunc="sum")
    record = list(session.results.results.values())[-1]
    outcome = record.outcome.iloc[:, 0]
    return {str(cell): {ACRO_TO_OURS[name.strip()] for name in str(text).split(";")
                        if name.strip() in ACRO_TO_OURS}
            for cell, text in outcome.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_magnitude_rules_agree_with_acro_on_every_cell(seed):
    df = _cells(seed)
    expected = _acro_failures(df)
    table = magnitude_table(df, ["cell"], "income").set_index("cell")
    limits = OutputThresholds()
    ours = {}
    for cell in table.index:
        verdicts = check_magnitude_table(table.loc[[cell]], limits.min_cell_count,
                                         limits.dominance_n, limits.dominance_k,
                                         limits.p_percent)
        ours[str(cell)] = {v.check for v in verdicts if not v.ok} & RULES
    assert ours == expected
    # Both sides must have seen every sort of verdict for the comparison to mean anything.
    seen = set().union(*expected.values())
    assert seen == RULES and any(not f for f in expected.values())


def test_the_whole_table_file_is_held_exactly_when_acro_fails_a_cell(tmp_path):
    df = _cells(4)
    expected = set().union(*_acro_failures(df).values())
    path = tmp_path / "income_by_cell.csv"
    magnitude_table(df, ["cell"], "income").to_csv(path, index=False)
    held = {v.check for v in check_output_file(path) if not v.ok}
    assert held & RULES == expected
