"""Our k, l and t agree with pyCANON, the reference implementation of these definitions.

pyCANON pins exact versions of numpy, scipy and typer that clash with this project, so it is
installed without its dependencies (`pip install --no-deps pycanon==1.3.6`); its anonymity
module needs only numpy and pandas.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from anonymize import risk_report
from tests.conftest import skip_unless_ci

try:
    from pycanon import anonymity as pycanon
except ImportError:  # pragma: no cover - depends on the environment
    pycanon = None


@pytest.fixture(autouse=True)
def _needs_pycanon():
    if pycanon is None:
        skip_unless_ci("pycanon is not installed (pip install --no-deps pycanon)")


def random_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    return pd.DataFrame({
        "age_band": rng.integers(0, 4, n),
        "sex": rng.choice(["F", "M", "X"], n),
        "sigungu": rng.choice(["종로구", "중구", "용산구"], n),
        # at least two distinct values: pyCANON divides by (m - 1) for ordered EMD
        "income": rng.integers(0, int(rng.integers(2, 9)), n) * 1000,
        "benefit": rng.choice(["livelihood", "disability", "pension", "housing"], n),
    })


@pytest.mark.parametrize("seed", range(12))
def test_k_l_t_agree_with_pycanon(seed):
    df = random_table(seed)
    qi = ["age_band", "sex"] if seed % 2 else ["age_band", "sex", "sigungu"]
    sensitive = ["income", "benefit"]
    r = risk_report(df, qi, sensitive)

    assert r.k == pycanon.k_anonymity(df, qi)
    assert r.l_distinct == pycanon.l_diversity(df, qi, sensitive)
    for col in sensitive:
        assert r.by_sensitive[col].t_closeness == pytest.approx(
            pycanon.t_closeness(df, qi, [col]), abs=1e-12)
    assert r.t_closeness == pytest.approx(pycanon.t_closeness(df, qi, sensitive), abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_entropy_l_is_pycanons_before_truncation(seed):
    """pyCANON returns ``int(exp(H))``; we keep the real number. Where exp(H) is an integer
    in exact arithmetic, pyCANON's float can land just below it and truncate one lower
    (exp(log 2) -> 1.9999999999999998 -> 1), so that case is allowed and nothing else."""
    df = random_table(seed)
    qi = ["age_band", "sex"]
    for col in ("income", "benefit"):
        ours = risk_report(df, qi, col).l_entropy
        theirs = pycanon.entropy_l_diversity(df, qi, [col])
        nearest = round(ours)
        if math.isclose(ours, nearest, abs_tol=1e-9):
            assert theirs in (nearest, nearest - 1)
        else:
            assert theirs == math.floor(ours)


@pytest.mark.parametrize("seed", range(8))
def test_missing_values_agree_with_pycanon_given_an_explicit_missing_label(seed):
    """A missing quasi-identifier is its own class and a missing sensitive value one more
    value (pyCANON's group-by would silently drop such rows): on the same table with the
    gaps spelt out as a label, pyCANON must find exactly our k, l and t."""
    rng = np.random.default_rng(100 + seed)
    df = random_table(seed)
    for col in ("sex", "sigungu", "benefit"):
        df.loc[rng.random(len(df)) < 0.15, col] = None
    qi = ["age_band", "sex", "sigungu"]
    ours = risk_report(df, qi, ["benefit"])
    spelt = df.fillna({"sex": "<missing>", "sigungu": "<missing>", "benefit": "<missing>"})
    assert df[qi].isna().any().any()
    assert ours.k == pycanon.k_anonymity(spelt, qi)
    assert ours.l_distinct == pycanon.l_diversity(spelt, qi, ["benefit"])
    assert ours.t_closeness == pytest.approx(pycanon.t_closeness(spelt, qi, ["benefit"]),
                                             abs=1e-12)
    assert ours.records == len(df)
