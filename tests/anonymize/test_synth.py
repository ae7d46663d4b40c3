"""Synthetic microdata: released with its quality score and a count of copied real rows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError, SynthResult, exact_copies, synthesize


def correlated(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 80, n)
    return pd.DataFrame({
        "link_id": [f"L{i:06d}" for i in range(n)],
        "age": age,
        "benefit_amount": (age * 10_000 + rng.normal(0, 50_000, n)).round(-3),
        "sex": rng.choice(["F", "M"], n),
        "sido": rng.choice(["서울", "부산", "대구"], n, p=[0.6, 0.3, 0.1]),
    })


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return correlated()


@pytest.fixture(scope="module")
def result(real) -> SynthResult:
    return synthesize(real, 1000, seed=7)


def test_returns_the_requested_rows_without_identifiers(result, real):
    assert len(result.data) == 1000
    assert "link_id" not in result.data.columns
    assert result.dropped == ["link_id"]
    assert set(result.data.columns) == set(real.columns) - {"link_id"}


def test_quality_score_is_reported_and_high_on_simple_data(result):
    assert 0.0 <= result.quality_score <= 1.0
    assert result.quality_score > 0.7
    assert set(result.column_shapes["Column"]) == {"age", "benefit_amount", "sex", "sido"}
    assert len(result.column_pair_trends) == 6  # 4 columns -> 6 pairs
    assert result.fit_seconds > 0


def test_exact_copies_are_counted(result, real):
    modelled = real.drop(columns=["link_id"])
    real_rows = set(modelled.itertuples(index=False, name=None))
    recount = sum(row in real_rows for row in result.data.itertuples(index=False, name=None))
    assert result.exact_copies == recount

    injected = pd.concat([result.data, modelled.iloc[[5]], modelled.iloc[[5]]],
                         ignore_index=True)
    assert exact_copies(modelled, injected) == result.exact_copies + 2


def test_same_seed_gives_the_same_synthetic_rows(real):
    small = real.head(400)
    first = synthesize(small, 50, seed=3).data
    second = synthesize(small, 50, seed=3).data
    pd.testing.assert_frame_equal(first, second)


def test_neural_synthesizers_are_accepted_by_name(real):
    out = synthesize(real.head(300), 20, synthesizer="tvae", epochs=1)
    assert len(out.data) == 20 and out.synthesizer == "tvae"


def test_detected_identifier_columns_are_never_modelled(real):
    df = real.head(300).rename(columns={"link_id": "serial"})
    out = synthesize(df, 10, drop=())
    assert "serial" in out.dropped and "serial" not in out.data.columns


def test_bad_requests_are_refused(real):
    with pytest.raises(AnonymizeError, match="unknown synthesizer 'gan'"):
        synthesize(real, 10, synthesizer="gan")
    with pytest.raises(AnonymizeError, match="rows"):
        synthesize(real, 0)


def test_neural_fit_reports_each_epoch_and_sampling_each_batch(real, monkeypatch):
    from anonymize.synth import synthesizers

    monkeypatch.setattr(synthesizers, "SAMPLE_BATCH", 100)
    events = []
    out = synthesize(real.head(300), 250, synthesizer="tvae", epochs=3,
                     progress=lambda stage, done, total: events.append((stage, done, total)))
    assert [e for e in events if e[0] == "fit tvae"] == [("fit tvae", i, 3) for i in range(4)]
    assert [(done, total) for stage, done, total in events if stage == "sample"] == [
        (0, 250), (100, 250), (200, 250), (250, 250)]
    assert len(out.data) == 250


def test_epoch_hook_leaves_other_users_of_ctgan_alone(real):
    import ctgan.synthesizers.ctgan as epoch_loop
    from tqdm import tqdm

    synthesize(real.head(300), 10, synthesizer="tvae", epochs=1)  # the hook is in place now
    bar = epoch_loop.tqdm(range(3), disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1, 2]


def test_column_types_for_the_quality_report_match_sdvs_detection(real):
    # The report decides column types itself so that default releases never import SDV;
    # SDMetrics must still score the same columns the same way SDV's detection would.
    from sdv.metadata import Metadata

    from anonymize.synth.report import sdmetrics_metadata

    ours = sdmetrics_metadata(real)["tables"]["data"]["columns"]
    theirs = Metadata.detect_from_dataframes({"data": real}).to_dict()["tables"]["data"]
    assert {c: v["sdtype"] for c, v in ours.items()} == \
        {c: v["sdtype"] for c, v in theirs["columns"].items()}


def test_default_release_never_imports_sdv():
    code = ("import sys, numpy as np, pandas as pd, anonymize\n"
            "rng = np.random.default_rng(0)\n"
            "df = pd.DataFrame({'k': rng.integers(0, 5, 2000), 'x': rng.normal(size=2000),\n"
            "                   'c': rng.choice(['a', 'b', 'c'], 2000)})\n"
            "anonymize.synthetic_release(df, 500, seed=1)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sdv', 'ctgan', 'rdt'}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
