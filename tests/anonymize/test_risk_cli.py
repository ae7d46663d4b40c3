"""`pseudolink risk`: the contract in DESIGN 5, as a privacy officer or a CI gate uses it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import pseudolink.cli  # noqa: F401  (registers every command on the app)
from pseudolink.cli.app import app

runner = CliRunner()

DATA = pd.DataFrame({
    "link_id": [f"L{i}" for i in range(8)],
    "ssis__age": ["30s", "30s", "30s", "40s", "40s", "40s", "40s", "50s"],
    "ssis__sex": ["F", "F", "F", "M", "M", "M", "M", "F"],
    "ssis__benefit_amount": [100, 200, 300, 100, 100, 200, 400, 300],
})


@pytest.fixture(params=["parquet", "csv"])
def combined(request, tmp_path):
    path = tmp_path / f"combined.{request.param}"
    if request.param == "parquet":
        DATA.to_parquet(path)
    else:
        DATA.to_csv(path, index=False, encoding="cp949")
    return path


def test_json_report_has_the_contract_keys(combined):
    result = runner.invoke(app, ["risk", "--input", str(combined), "--qi", "ssis__age,ssis__sex",
                                 "--sensitive", "ssis__benefit_amount", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"k", "l_distinct", "l_entropy", "t_closeness", "sample_uniques",
            "prosecutor_risk_max", "prosecutor_risk_avg"} <= set(report)
    assert (report["k"], report["sample_uniques"], report["l_distinct"]) == (1, 1, 1)
    # Read from CSV as text, the amounts are still numbers: ordered EMD, 0.375 by hand.
    assert report["t_closeness"] == pytest.approx(0.375)


def test_repeated_qi_options_equal_a_comma_list(combined):
    args = ["risk", "--input", str(combined), "--sensitive", "ssis__benefit_amount", "--json"]
    repeated = runner.invoke(app, [*args, "--qi", "ssis__age", "--qi", "ssis__sex"])
    listed = runner.invoke(app, [*args, "--qi", "ssis__age,ssis__sex"])
    assert json.loads(repeated.stdout) == json.loads(listed.stdout)


def test_table_output_shows_measures_and_summary(combined):
    result = runner.invoke(app, ["risk", "--input", str(combined), "--qi", "ssis__age",
                                 "--sensitive", "ssis__benefit_amount"])
    assert result.exit_code == 0, result.output
    assert "prosecutor risk" in result.output and "k = 1" in result.output


def test_k_target_not_met_exits_1(combined):
    result = runner.invoke(app, ["risk", "--input", str(combined), "--qi", "ssis__age",
                                 "--sensitive", "ssis__benefit_amount", "--k", "3", "--json"])
    assert result.exit_code == 1
    assert "target not met" in result.stderr
    assert json.loads(result.stdout)["k"] == 1


def test_k_target_met_exits_0(combined):
    result = runner.invoke(app, ["risk", "--input", str(combined), "--qi", "ssis__sex",
                                 "--k", "3"])
    assert result.exit_code == 0, result.output


def test_unknown_column_is_a_user_error(combined):
    result = runner.invoke(app, ["risk", "--input", str(combined), "--qi", "ssis__sigungu"])
    assert result.exit_code == 2
    assert "ssis__sigungu" in result.stderr and str(combined.name) in result.stderr


def test_missing_file_is_a_user_error(tmp_path):
    result = runner.invoke(app, ["risk", "--input", str(tmp_path / "nope.parquet"),
                                 "--qi", "a"])
    assert result.exit_code == 2
    assert "nope.parquet" in result.stderr
