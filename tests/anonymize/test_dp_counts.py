"""Differentially private counts: what a data consumer and a budget ledger rely on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError, count_measurement, dp_count_by

KEYS = {"sido": ["서울", "부산"], "sex": ["F", "M"]}


def people(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [(sido, sex) for (sido, sex), n in counts.items() for _ in range(n)]
    df = pd.DataFrame(rows, columns=["sido", "sex"])
    df.insert(0, "link_id", [f"L{i:05d}" for i in range(len(df))])
    return df


TRUE = {("서울", "F"): 40, ("서울", "M"): 35, ("부산", "F"): 50, ("부산", "M"): 25}


def test_true_count_lies_in_the_stated_95_percent_interval():
    df = people(TRUE)
    hits = trials = 0
    for _ in range(200):
        out = dp_count_by(df, ["sido", "sex"], epsilon=0.5, keys=KEYS)
        for row in out.table.itertuples():
            hits += abs(row.count - TRUE[(row.sido, row.sex)]) <= out.accuracy_95
            trials += 1
    assert 0.90 <= hits / trials <= 0.99


def test_noise_scale_halves_when_epsilon_doubles():
    df = people(TRUE)
    low = dp_count_by(df, ["sex"], epsilon=0.5, keys=KEYS)
    high = dp_count_by(df, ["sex"], epsilon=1.0, keys=KEYS)
    assert low.scale == pytest.approx(2 * high.scale)
    assert low.accuracy_95 > high.accuracy_95


@pytest.mark.parametrize("epsilon", [0.1, 0.3, 0.7, 1.0, 2.5])
@pytest.mark.parametrize("d_in", [1, 3])
def test_privacy_map_spends_exactly_the_requested_epsilon(epsilon, d_in):
    meas, _ = count_measurement(cells=4, d_in=d_in, epsilon=epsilon)
    assert meas.map(d_in) <= epsilon
    assert meas.map(d_in) == pytest.approx(epsilon, rel=1e-9)
    out = dp_count_by(people(TRUE), ["sex"], epsilon=epsilon, keys=KEYS, max_contributions=d_in)
    assert out.epsilon == pytest.approx(epsilon, rel=1e-9) and out.epsilon <= epsilon
    assert out.d_in == d_in


def test_cells_absent_from_the_data_are_released_too():
    df = people({("서울", "F"): 5})
    keys = {"sido": ["서울", "부산", "대구"], "sex": ["F", "M"]}
    out = dp_count_by(df, ["sido", "sex"], epsilon=1.0, keys=keys)
    cells = list(out.table[["sido", "sex"]].itertuples(index=False, name=None))
    assert cells == [(s, x) for s in keys["sido"] for x in keys["sex"]]
    assert out.table["count"].dtype.kind == "i" and (out.table["count"] >= 0).all()


def test_each_person_counts_at_most_max_contributions_times():
    df = pd.DataFrame({"link_id": ["p1"] * 10 + ["p2"], "sex": ["F"] * 10 + ["M"]})
    # epsilon this large makes the noise negligible, so the bound itself is visible.
    out = dp_count_by(df, ["sex"], epsilon=1e4, keys={"sex": ["F", "M"]}, max_contributions=2)
    assert out.table["count"].tolist() == [2, 1]
    assert out.rows_dropped_by_bound == 8
    assert out.scale == pytest.approx(2 / 1e4)


def test_without_privacy_unit_each_row_is_a_person():
    df = pd.DataFrame({"sex": ["F", "F", "M"]})
    out = dp_count_by(df, ["sex"], epsilon=1.0, keys={"sex": ["F", "M"]}, privacy_unit=None)
    assert out.d_in == 1 and out.scale == pytest.approx(1.0)
    assert out.mechanism == "discrete_laplace"
    assert set(out.to_dict()) >= {"epsilon", "mechanism", "scale", "accuracy_95", "rows"}


def test_keys_must_be_declared_and_columns_exist():
    df = people(TRUE)
    with pytest.raises(AnonymizeError, match="no declared keys for column 'sex'"):
        dp_count_by(df, ["sido", "sex"], epsilon=1.0, keys={"sido": ["서울"]})
    with pytest.raises(AnonymizeError, match="'age'"):
        dp_count_by(df, ["age"], epsilon=1.0, keys={"age": [1]})
    with pytest.raises(AnonymizeError, match="'person'"):
        dp_count_by(df, ["sex"], epsilon=1.0, keys=KEYS, privacy_unit="person")
    with pytest.raises(AnonymizeError, match="epsilon"):
        dp_count_by(df, ["sex"], epsilon=0, keys=KEYS)
    with pytest.raises(AnonymizeError, match="max_contributions"):
        dp_count_by(df, ["sex"], epsilon=1.0, keys=KEYS, max_contributions=0)


def test_rows_outside_the_declared_keys_are_not_counted():
    df = pd.DataFrame({"link_id": range(6), "sex": ["F", "F", "M", "X", "X", None]})
    out = dp_count_by(df, ["sex"], epsilon=1e4, keys={"sex": ["F", "M"]})
    assert out.table["count"].tolist() == [2, 1]
    assert np.issubdtype(out.table["count"].dtype, np.integer)
