"""Every transformation records what it did, so a release can show its processing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anonymize import Processing, risk_report
from anonymize.hierarchies import age_hierarchy


def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [23, 37, 87, 41], "income": [100, 250_000, 9_900_000, 0],
                         "postcode": ["06236", "13494", "63122", "04524"]})


def test_each_transformation_records_a_step_with_counts():
    p = Processing(frame())
    (p.generalise("age", age_hierarchy(), "10-year").top_code("income", 1_000_000)
     .bottom_code("income", 50).round("income", 1000).mask("postcode", keep_start=3)
     .suppress_cells("age", np.array([False, False, True, False]), reason="rare")
     .add_noise("income", 10.0, seed=7).suppress_records(np.array([True, False, False, False])))
    steps = [(s.action, s.cells_changed, s.records_changed) for s in p.steps]
    assert steps == [("generalise", 4, 4), ("top_code", 1, 1), ("bottom_code", 1, 1),
                     ("round", 2, 2), ("mask", 4, 4), ("suppress_cells", 1, 1),
                     ("add_noise", 4, 4), ("suppress_records", 3, 1)]
    assert p.steps[1].parameters == {"top": 1_000_000}
    assert len(p.frame) == 3


def test_noise_is_reproducible_from_its_seed():
    a = Processing(frame()).add_noise("income", 100.0, seed=1).frame["income"]
    b = Processing(frame()).add_noise("income", 100.0, seed=1).frame["income"]
    assert a.equals(b)


def test_the_input_frame_is_never_modified():
    original = frame()
    Processing(original).top_code("income", 10).suppress_records(np.ones(4, dtype=bool))
    assert original.equals(frame())


def test_journalist_risk_uses_the_population_and_marketer_is_classes_over_records():
    sample = pd.DataFrame({"a": [1, 1, 2, 3]})
    alone = risk_report(sample, ["a"])
    assert alone.marketer_risk == 3 / 4 and alone.journalist_risk_max == 1.0
    population = pd.DataFrame({"a": [1, 2, 3], "n": [10, 5, 4]})
    r = risk_report(sample, ["a"], population=population, population_count="n")
    assert r.journalist_risk_max == 1 / 4
    assert r.journalist_risk_avg == r.marketer_risk == (2 / 10 + 1 / 5 + 1 / 4) / 4
