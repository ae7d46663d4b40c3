"""``pseudolink anonymize`` end to end on a small file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from pseudolink.cli import app


def test_anonymize_writes_a_k_anonymous_file_and_its_report(tmp_path):
    rng = np.random.default_rng(0)
    areas = ["서울특별시", "부산광역시"]
    n = 400
    sido = rng.choice(areas, n)
    pd.DataFrame({
        "ssis__sido": sido,
        "ssis__sigungu": ["중구"] * n,  # ambiguous alone: qualified by the sido column
        "ssis__sex": rng.choice(["F", "M"], n),
        "ssis__birth_year": rng.integers(1930, 2020, n),
        "ssis__benefit_type": rng.choice(["기초연금", "아동수당", "none"], n),
    }).to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out" / "release.parquet"
    result = CliRunner().invoke(app, [
        "anonymize", "--input", str(tmp_path / "in.csv"),
        "--qi", "ssis__sido,ssis__sigungu,ssis__sex,ssis__birth_year",
        "--sensitive", "ssis__benefit_type", "--k", "5", "--l", "2",
        "--max-suppression", "0.05", "--out", str(out)])
    assert result.exit_code == 0, result.output
    # Progress is drawn on standard error: standard output redirected to a file gets no bars.
    assert "━" in result.stderr and "━" not in result.stdout
    report = json.loads((tmp_path / "out" / "release.report.json").read_text("utf-8"))
    data = pd.read_parquet(out)
    qi = ["ssis__sido", "ssis__sigungu", "ssis__sex", "ssis__birth_year"]
    assert data.groupby(qi, dropna=False).size().min() >= 5
    assert report["risk_after"]["k"] >= 5 and len(data) == report["records_out"]
    assert set(data["ssis__sigungu"]) <= {"서울특별시 중구", "부산광역시 중구", "서울특별시",
                                         "부산광역시", "전국"}
    assert not list((tmp_path / "out").glob(".*tmp*"))


def test_unknown_hierarchy_kind_is_a_user_error(tmp_path):
    pd.DataFrame({"age": [1, 2]}).to_csv(tmp_path / "in.csv", index=False)
    result = CliRunner().invoke(app, [
        "anonymize", "--input", str(tmp_path / "in.csv"), "--qi", "age", "--k", "2",
        "--hierarchy", "age=shoe_size", "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "shoe_size" in result.output
