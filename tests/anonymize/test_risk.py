"""Risk measures a privacy officer relies on before any release (DESIGN 7)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize import AnonymizeError, risk_report, summary

# Eight records, three classes over (age band, sex):
#   (30s, F): 3 records, disease flu, flu, cold;  income 100, 200, 300
#   (40s, M): 4 records, disease flu, cold, hiv, cold;  income 100, 100, 200, 400
#   (50s, F): 1 record, disease flu;  income 300
TABLE = pd.DataFrame({
    "age": ["30s", "30s", "30s", "40s", "40s", "40s", "40s", "50s"],
    "sex": ["F", "F", "F", "M", "M", "M", "M", "F"],
    "disease": ["flu", "flu", "cold", "flu", "cold", "hiv", "cold", "flu"],
    "income": [100, 200, 300, 100, 100, 200, 400, 300],
})


def test_small_table_measures_match_hand_computation():
    r = risk_report(TABLE, ["age", "sex"], "disease", threshold=0.3)
    assert (r.records, r.classes, r.k) == (8, 3, 1)
    assert r.sample_uniques == 1
    assert r.prosecutor_risk_max == 1.0
    assert r.prosecutor_risk_avg == pytest.approx(3 / 8)  # (3·⅓ + 4·¼ + 1·1) / 8
    assert r.records_at_risk == 4  # the 3-class (⅓ > 0.3) and the unique; not the 4-class
    assert r.class_sizes == {1: 1, 3: 1, 4: 1}
    assert r.l_distinct == 1  # the unique record's class has one disease
    assert r.l_entropy == pytest.approx(1.0)
    # Table: flu 4/8, cold 3/8, hiv 1/8. Unique class (flu only): ½(½ + ⅜ + ⅛) = ½.
    assert r.t_closeness == pytest.approx(0.5)


def test_entropy_l_is_the_effective_number_of_sensitive_values():
    df = TABLE[TABLE.age != "50s"]
    r = risk_report(df, ["age", "sex"], "disease")
    # (30s,F): shares ⅔, ⅓ -> exp(H) = 1.8899; (40s,M): ¼, ½, ¼ -> exp(H) = 2.8284.
    h_30s = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert r.l_entropy == pytest.approx(math.exp(h_30s))
    assert r.l_distinct == 2
    assert r.k == 3


def test_numeric_sensitive_uses_ordered_distance():
    r = risk_report(TABLE, ["age", "sex"], "income")
    # Distinct incomes 100, 200, 300, 400 with table shares 3/8, 2/8, 2/8, 1/8 (m = 4).
    # Unique class (300): cumulative q - p = -3/8, -5/8, +1/8, 0 -> (3+5+1)/8 / 3 = 0.375.
    assert r.by_sensitive["income"].ordered
    assert r.t_closeness == pytest.approx(0.375)


def test_several_sensitive_columns_take_worst_case():
    r = risk_report(TABLE, ["age"], ["disease", "income"])
    per = r.by_sensitive
    assert r.l_distinct == min(per["disease"].l_distinct, per["income"].l_distinct)
    assert r.t_closeness == max(per["disease"].t_closeness, per["income"].t_closeness)


def test_missing_quasi_identifier_is_a_value_of_its_own():
    df = pd.DataFrame({"region": ["A", None, None, "A", np.nan], "x": [1, 2, 3, 4, 5]})
    r = risk_report(df, ["region"])
    assert (r.records, r.classes, r.k) == (5, 2, 2)
    assert r.class_sizes == {2: 1, 3: 1}
    assert r.l_distinct is None and r.t_closeness is None


def test_unknown_column_is_named_in_the_error():
    with pytest.raises(AnonymizeError, match="'sigungu'"):
        risk_report(TABLE, ["age", "sigungu"])
    with pytest.raises(AnonymizeError, match="sensitive column 'diagnosis'"):
        risk_report(TABLE, ["age"], "diagnosis")


def test_empty_table_and_bad_threshold_are_refused():
    with pytest.raises(AnonymizeError, match="no records"):
        risk_report(TABLE.iloc[:0], ["age"])
    with pytest.raises(AnonymizeError, match="threshold"):
        risk_report(TABLE, ["age"], threshold=0)


def test_report_serialises_to_json_with_required_keys():
    data = json.loads(json.dumps(risk_report(TABLE, ["age"], "disease").to_dict()))
    for key in ("k", "l_distinct", "l_entropy", "t_closeness", "sample_uniques",
                "prosecutor_risk_max", "prosecutor_risk_avg", "records_at_risk", "classes",
                "records", "class_sizes"):
        assert key in data
    assert data["class_sizes"] == {"1": 1, "3": 1, "4": 1}


def test_summary_names_k_and_uniques():
    text = summary(risk_report(TABLE, ["age", "sex"], "disease"))
    assert "k = 1" in text and "1 sample unique" in text and "disease" in text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from("xyz"), st.integers(0, 4)),
                min_size=1, max_size=60))
def test_risk_invariants_hold_for_any_table(rows):
    df = pd.DataFrame(rows, columns=["a", "b", "s"])
    r = risk_report(df, ["a", "b"], "s")
    sizes = df.groupby(["a", "b"]).size()
    assert r.k == sizes.min() and r.classes == len(sizes)
    per_record = 1 / df.groupby(["a", "b"])["s"].transform("size")
    assert r.prosecutor_risk_avg == pytest.approx(per_record.mean())
    assert sum(size * n for size, n in r.class_sizes.items()) == len(df)
    assert 1 <= r.l_entropy <= r.l_distinct + 1e-9
    assert r.l_distinct <= r.k
    assert 0 <= r.t_closeness <= 1 + 1e-12


def test_large_table_is_measured_quickly():
    rng = np.random.default_rng(0)
    n = 300_000
    df = pd.DataFrame({"a": rng.integers(0, 50, n), "b": rng.integers(0, 50, n),
                       "inc": rng.integers(0, 20_000, n), "c": rng.choice(list("abcdef"), n)})
    r = risk_report(df, ["a", "b"], ["inc", "c"])
    assert r.records == n and r.classes == 2500
