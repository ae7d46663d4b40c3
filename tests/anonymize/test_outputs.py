"""The airlock's disclosure checks: what a researcher and an officer rely on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError, OutputThresholds, check_output_file
from anonymize.outputs import (
    check_dominance,
    check_margins,
    check_min_cell_count,
    check_p_percent,
    check_residual_df,
    check_zeros,
    contributions,
)


def _crosstab(rows: dict[str, list], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def test_table_with_a_cell_of_three_is_held_with_the_reason(tmp_path):
    path = tmp_path / "by_district.csv"
    _crosstab({"Jongno": [25, 3], "Jung": [40, 31]}, ["owner", "tenant"]).to_csv(path)
    verdicts = check_output_file(path)
    held = [v for v in verdicts if not v.ok]
    assert [v.check for v in held] == ["min_cell_count"]
    assert held[0].reason == "cell (Jongno, tenant) counts 3, fewer than 10 units"


def test_suppressed_cell_recomputable_from_margins_is_held(tmp_path):
    path = tmp_path / "suppressed.csv"
    table = pd.DataFrame({"owner": [25, "*", 34], "tenant": [12, 31, 43],
                          "Total": [37, 40, 77]}, index=["Jongno", "Jung", "Total"])
    table.to_csv(path)
    held = [v for v in check_output_file(path) if not v.ok]
    assert [v.check for v in held] == ["margins"]
    assert "(Jung, owner) can be recomputed from the totals as 9" in held[0].reason
    assert "secondary suppression" in held[0].reason


def test_secondary_suppression_makes_the_table_safe():
    table = pd.DataFrame({"a": [25, None, 30, 70], "b": [None, 31, 40, 80],
                          "c": [20, 20, 15, 55], "Total": [54, 60, 85, 199]},
                         index=["x", "y", "z", "Total"])
    # Two unknowns in a 2x2 rectangle of suppressed... only two cells: x.b and y.a are
    # each alone in their rows, so they are still derivable; four cells in a rectangle are not.
    assert not check_margins(table).ok
    rectangle = pd.DataFrame({"a": [None, None, 30, 85], "b": [None, None, 40, 100],
                              "c": [20, 20, 15, 55], "Total": [54, 60, 85, 199]},
                             index=["x", "y", "z", "Total"])
    verdict = check_margins(rectangle)
    assert verdict.ok, verdict.reason


def test_chained_derivation_through_two_totals_is_caught():
    # y.a is not alone in its row, but column b's total reveals y.b first.
    table = pd.DataFrame({"a": [20, None, 30], "b": [25, None, 55], "Total": [45, 40, 85]},
                         index=["x", "y", "Total"])
    verdict = check_margins(table)
    assert not verdict.ok
    assert "(y, a)" in verdict.reason


def test_margins_that_disagree_with_published_cells_are_held():
    table = pd.DataFrame({"a": [20, 30], "Total": [20, 31]}, index=["x", "y"])
    verdict = check_margins(table)
    assert not verdict.ok and "row y total does not equal" in verdict.reason


def test_safe_table_passes_every_check(tmp_path):
    path = tmp_path / "safe.csv"
    pd.DataFrame({"owner": [25, 40, 65], "tenant": [12, 31, 43], "Total": [37, 71, 108]},
                 index=["Jongno", "Jung", "Total"]).to_csv(path)
    verdicts = check_output_file(path)
    assert all(v.ok and not v.review for v in verdicts), verdicts
    assert {v.check for v in verdicts} == {"file_type", "file_size", "row_count", "microdata",
                                           "min_cell_count", "zeros", "margins"}


def test_zero_cells_are_held_unless_the_custodian_allows_them():
    table = _crosstab({"x": [0, 12], "y": [14, 15]}, ["a", "b"])
    assert not check_zeros(table).ok
    assert check_zeros(table, allowed=True).ok


def test_custodian_thresholds_change_the_verdict(tmp_path):
    settings = tmp_path / "outputs.toml"
    settings.write_text('[outputs]\nmin_cell_count = 10\n\n[outputs.nhis]\nmin_cell_count = 5\n'
                        'max_rows = 50\n', encoding="utf-8")
    table = _crosstab({"x": [7, 12]}, ["a", "b"])
    assert not check_min_cell_count(table, OutputThresholds.load(settings).min_cell_count).ok
    nhis = OutputThresholds.load(settings, custodian="nhis")
    assert nhis.min_cell_count == 5 and nhis.max_rows == 50
    assert check_min_cell_count(table, nhis.min_cell_count).ok


def test_unknown_threshold_is_refused_by_name():
    with pytest.raises(AnonymizeError, match="min_cells"):
        OutputThresholds.from_mapping({"min_cells": 3})


def test_dominant_contributor_is_held_and_spread_cell_passes():
    df = pd.DataFrame({"district": ["a"] * 12 + ["b"] * 12,
                       "income": [2000.0] + [10.0] * 11 + [50.0 + i for i in range(12)]})
    cells = contributions(df, ["district"], "income")
    verdict = check_dominance(cells, n=2, k=85)
    assert not verdict.ok and verdict.reason.startswith("cell a:")
    assert check_dominance({"b": cells["b"]}, n=2, k=85).ok
    assert not check_p_percent({"a": cells["a"]}, p=10).ok
    assert check_p_percent({"b": cells["b"]}, p=10).ok


def test_model_with_few_residual_degrees_of_freedom_is_held(tmp_path):
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5))
    fit = sm.OLS(x[:, 0], sm.add_constant(x[:, 1:])).fit()  # 12 - 5 = 7 residual df
    verdict = check_residual_df(fit)
    assert not verdict.ok and "7 residual degrees of freedom" in verdict.reason
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"df_resid": 250, "params": [0.1]}), encoding="utf-8")
    assert all(v.ok for v in check_output_file(path))


def test_figures_and_free_text_are_flagged_for_a_person(tmp_path):
    figure, note = tmp_path / "plot.png", tmp_path / "notes.txt"
    figure.write_bytes(b"\x89PNG\r\n")
    note.write_text("mean income rose", encoding="utf-8")
    for path in (figure, note):
        flags = [v for v in check_output_file(path) if v.review]
        assert len(flags) == 1 and "officer" in flags[0].reason


def test_file_type_size_and_row_caps_hold_outputs(tmp_path):
    pickle = tmp_path / "frame.pkl"
    pickle.write_bytes(b"\x80\x04")
    assert [v.check for v in check_output_file(pickle) if not v.ok] == ["file_type"]
    big = tmp_path / "long.csv"
    pd.DataFrame({"v": range(20, 60)}, index=range(40)).to_csv(big)
    limits = OutputThresholds(max_rows=30, max_file_bytes=100)
    assert [v.check for v in check_output_file(big, limits) if not v.ok] == ["file_size"]
    limits = OutputThresholds(max_rows=30)
    assert "row_count" in [v.check for v in check_output_file(big, limits) if not v.ok]
