"""The search returns a node that meets the target with the least loss of the whole lattice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError, anonymise
from anonymize.hierarchies import AdminAreaHierarchy, CategoryHierarchy, age_hierarchy
from anonymize.sdc import LOSSES, Lattice, Target, brute_force, search


def random_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 600))
    return pd.DataFrame({
        "age": rng.integers(0, 100, n),
        "sex": rng.choice(["F", "M"], n),
        "sido": rng.choice(["11", "26", "41", "50"], n, p=[0.5, 0.2, 0.2, 0.1]),
        "income": rng.integers(0, int(rng.integers(2, 6)), n) * 1000,
        "benefit": rng.choice(["a", "b", "c"], n),
    })


HIERARCHIES = {"age": age_hierarchy(), "sex": CategoryHierarchy(),
               "sido": AdminAreaHierarchy("시도")}
TARGETS = [Target(3), Target(5, max_suppression=0.05), Target(4, l=2, max_suppression=0.03),
           Target(2, t=0.25, max_suppression=0.1), Target(3, l=2, t=0.3, max_suppression=0.02)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("target", TARGETS, ids=str)
@pytest.mark.parametrize("objective", LOSSES)
def test_search_finds_a_least_loss_node_meeting_the_target(seed, target, objective):
    df = random_table(seed)
    qi = ["age", "sex", "sido"]
    lattice = Lattice(df, qi, HIERARCHIES, ["income", "benefit"])
    result = search(df, qi, HIERARCHIES, target, sensitive=["income", "benefit"],
                    objective=objective, lattice=lattice)
    every = brute_force(lattice, target)
    meeting = [r.loss[objective] for r in every.values() if r.meets]
    if not meeting:
        assert result.best is None
        return
    assert result.best is not None and every[result.best.node].meets
    assert result.best.loss[objective] <= min(meeting) + 1e-9


def test_search_evaluates_fewer_nodes_than_the_lattice():
    df = random_table(0)
    result = search(df, ["age", "sex", "sido"], HIERARCHIES, Target(5))
    assert result.evaluated < result.nodes


def test_anonymised_table_meets_k_and_reports_its_steps():
    df = random_table(3)
    out = anonymise(df, ["age", "sex", "sido"], k=5, sensitive="benefit", l=2,
                    max_suppression=0.05, hierarchies=HIERARCHIES)
    report = out.report
    assert report.risk_after["k"] >= 5 and report.risk_after["l_distinct"] >= 2
    assert report.records_out == len(out.data) == report.records_in - report.suppressed
    assert report.suppressed <= 0.05 * len(df)
    assert [s["action"] for s in report.steps][:3] == ["generalise"] * 3
    assert set(report.loss) == set(LOSSES)


def test_unreachable_target_is_a_clear_error():
    df = random_table(1).head(3)
    with pytest.raises(AnonymizeError, match="no generalisation"):
        anonymise(df, ["age"], k=10, hierarchies={"age": "age"})
