"""Synthetic releases: good enough to use, never a copy of a real row, refused when leaky."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import anonymize
import linkage
from anonymize import AnonymizeError, GateThresholds, synthetic_release
from anonymize.synth import Constraints, dp_mst, privacy_gate

PEOPLE = 16_000  # about 8,000 combined rows


def demo_combined(out_dir, people: int = PEOPLE, seed: int = 3) -> pd.DataFrame:
    """The demo's combined table, joined on the generator's ground truth instead of linkage."""
    linkage.generate_synthetic_data(out_dir, people, areas=anonymize.load_admin_areas(),
                                    seed=seed)
    return linkage.combined_by_truth(out_dir)


@pytest.fixture(scope="module")
def combined(tmp_path_factory) -> pd.DataFrame:
    return demo_combined(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def default_release(combined):
    return synthetic_release(combined, 5000, seed=1)


@pytest.fixture(scope="module")
def dp_release(combined):
    return synthetic_release(combined, 5000, synthesizer="dp-mst", epsilon=1.0, seed=1)


def test_default_synthesizer_scores_at_least_85_percent(default_release):
    assert default_release.quality["quality_score"] >= 0.85
    assert default_release.quality["diagnostic_score"] >= 0.95
    assert default_release.gate.passed


def test_no_synthetic_row_equals_a_real_row(default_release, combined):
    real = combined.drop(columns=["link_id"])
    assert anonymize.exact_copies(real, default_release.data) == 0
    assert default_release.gate.exact_copies == 0


def test_identifiers_are_never_modelled(combined):
    columns = {col: "other" for col in combined.columns}
    columns["ssis__income"] = "direct_identifier"
    out = synthetic_release(combined.head(3000), 300, columns=columns, enforce=False)
    assert {"link_id", "ssis__income"} <= set(out.dropped)
    assert "ssis__income" not in out.data.columns and "link_id" not in out.data.columns


def test_constraints_hold_in_every_synthetic_row(default_release, dp_release, combined):
    rules = Constraints.detect(combined)
    for release in (default_release, dp_release):
        assert set(rules.violations(release.data, combined).values()) == {0}


def test_age_is_recomputed_from_birth_year(combined):
    with_age = combined.head(3000).assign(ssis__age=lambda d: 2025 - d["ssis__birth_year"])
    out = synthetic_release(with_age, 500, enforce=False)
    assert (out.data["ssis__age"] == 2025 - out.data["ssis__birth_year"]).all()


def test_gate_refuses_a_synthesizer_that_copies_rows(combined):
    def copier(train: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
        return train.sample(rows, random_state=seed, replace=True).reset_index(drop=True)

    with pytest.raises(AnonymizeError, match=r"refused by the privacy gate: exact copies \d+"):
        synthetic_release(combined, 2000, synthesizer=copier)


def test_gate_catches_near_copies_by_distance_and_membership(combined):
    real = combined.drop(columns=["link_id"])
    train, holdout = real.iloc[:6000], real.iloc[6000:]
    near = train.assign(building__floor_area=train["building__floor_area"] + 0.01)
    result = privacy_gate(train, holdout, near)
    assert result.exact_copies == 0
    assert result.dcr_share > 0.9 and result.mia_auc > 0.6
    assert not result.passed and len(result.failures) == 2


def test_gate_thresholds_are_configurable(default_release, combined):
    real = combined.drop(columns=["link_id"])
    strict = GateThresholds(max_dcr_share=0.0)
    result = privacy_gate(real.iloc[:6000], real.iloc[6000:], default_release.data, strict)
    assert not result.passed and "distance to closest record" in result.failures[0]


def test_dp_option_scores_at_least_75_percent_at_epsilon_1(dp_release):
    assert dp_release.quality["quality_score"] >= 0.75
    assert dp_release.dp["epsilon_spent"] <= 1.0 + 1e-9


def test_dp_synthesis_spends_exactly_the_epsilon_claimed(combined):
    real = combined.drop(columns=["link_id"]).head(2000)
    for epsilon in (0.3, 2.0):
        out = dp_mst(real[["ssis__sex", "ssis__benefit_type", "ssis__household_size"]], 100,
                     epsilon=epsilon)
        assert epsilon * 0.999 <= out.epsilon_spent <= epsilon
        assert len(out.tree) == 2


def test_report_is_json_ready_with_side_by_side_analyses(default_release):
    report = default_release.report()
    json.dumps(report)
    regression = report["utility"]["regression"]["coefficients"]
    assert {"ssis__birth_year", "ssis__household_size", "ssis__income"} <= set(regression)
    assert set(report["utility"]["crosstab"]) >= {"real_percent", "synthetic_percent"}
    assert report["privacy_gate"]["passed"] is True


def test_bad_requests_are_refused(combined):
    with pytest.raises(AnonymizeError, match="unknown synthesizer 'gan'"):
        synthetic_release(combined, 10, synthesizer="gan")
    with pytest.raises(AnonymizeError, match="epsilon"):
        synthetic_release(combined, 10, synthesizer="dp-mst")


def test_cli_releases_charges_and_records(tmp_path, combined):
    import catalog
    from pseudolink.cli.app import app
    from pseudolink.settings import workspace

    space = workspace(tmp_path / "w")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    data = space.data / "combined.parquet"
    combined.head(4000).to_parquet(data)
    with catalog.Catalog.connect(space.database_url) as cat:
        cat.register_dataset("d", title="t", path=str(data),
                             columns={c: "other" for c in combined.columns}, project_id=None,
                             lineage={}, actor="test")
        cat.set_budget("d", "public", 2.0, actor="test")
    result = CliRunner().invoke(app, [
        "release", "synth", "--dataset", "d", "--rows", "800", "--synthesizer", "dp-mst",
        "--epsilon", "1", "--id", "s1", "--data", str(data), "--workdir", str(space.root)])
    assert result.exit_code == 0, result.output
    assert (space.releases / "s1.parquet").exists()
    assert (space.releases / "s1.quality.png").exists()
    with catalog.Catalog.connect(space.database_url) as cat:
        release = cat.get_release("s1")
        assert release.form == "synthetic" and release.parameters["privacy_gate"]["passed"]
        assert cat.budget("d", "public").remaining == pytest.approx(1.0)
    assert len(pd.read_parquet(space.releases / "s1.parquet")) == 800
    assert np.isfinite(release.parameters["quality_score"])
