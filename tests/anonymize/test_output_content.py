"""The airlock looks at what a file holds, not at the label a researcher puts on it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError, OutputThresholds, check_output_file
from anonymize.outputs import infer_kind, magnitude_table, without_evidence

SIDO = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종"]


def _microdata(rows: int = 668, seed: int = 5) -> pd.DataFrame:
    """Rows shaped like the combined extract in the room: one row per person."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "link_id": [f"{rng.integers(1 << 62):016x}" for _ in range(rows)],
        "ssis__sex": rng.choice(["F", "M"], rows),
        "ssis__birth_year": rng.integers(1940, 2000, rows),
        "ssis__sido": rng.choice(SIDO, rows),
        "ssis__benefit_type": rng.choice(["none", "basic_pension", "disability"], rows),
        "ssis__income": rng.integers(1000, 9000, rows) * 10,
        "building__built_year": rng.integers(1960, 2020, rows),
    })


def _held(verdicts) -> list[str]:
    return [v.check for v in verdicts if not v.ok]


def test_microdata_declared_as_a_table_is_held(tmp_path):
    path = tmp_path / "results.csv"
    _microdata().to_csv(path, index=False)
    held = _held(check_output_file(path, kind="frequency_table"))
    assert "microdata" in held


@pytest.mark.parametrize("variant", ["no_identifier", "row_numbers", "numbers_only"])
def test_microdata_without_its_identifier_is_still_held(tmp_path, variant):
    frame = _microdata().drop(columns=["link_id"])
    path = tmp_path / "results.csv"
    if variant == "no_identifier":
        frame.to_csv(path, index=False)
    elif variant == "row_numbers":
        frame.to_csv(path)  # pandas' default: the row number as the first column
    else:
        frame[["ssis__birth_year", "ssis__income", "building__built_year"]].to_csv(path)
    verdicts = check_output_file(path)
    assert "microdata" in _held(verdicts), verdicts


def test_a_crosstab_is_not_mistaken_for_microdata(tmp_path):
    frame = _microdata(5000)
    table = pd.crosstab(frame["ssis__sido"], frame["ssis__benefit_type"], margins=True)
    wide, long = tmp_path / "wide.csv", tmp_path / "long.csv"
    table.to_csv(wide)
    counts = frame.groupby(["ssis__sido", "ssis__sex"]).size().rename("count").reset_index()
    counts.to_csv(long, index=False)
    for path in (wide, long):
        verdicts = check_output_file(path)
        assert not _held(verdicts), verdicts
        assert infer_kind(path) == "frequency_table"


def test_a_long_table_with_nested_areas_is_not_mistaken_for_microdata(tmp_path):
    from anonymize import load_admin_areas

    areas = load_admin_areas()[["sido", "sigungu"]].drop_duplicates()
    counts = areas.merge(pd.DataFrame({"sex": ["F", "M"]}), how="cross").assign(count=25)
    path = tmp_path / "by_area.csv"
    counts.to_csv(path, index=False)
    assert not _held(check_output_file(path, OutputThresholds(max_rows=5000)))


@pytest.mark.parametrize("declared", ["text", "figure", "model"])
def test_a_table_declared_as_something_else_is_refused(tmp_path, declared):
    path = tmp_path / "results.txt"
    path.write_text(_microdata(40).to_csv(index=False), encoding="utf-8")
    with pytest.raises(AnonymizeError, match=r"results\.txt.*table"):
        check_output_file(path, kind=declared)


def test_a_figure_that_is_not_an_image_is_refused(tmp_path):
    path = tmp_path / "plot.png"
    path.write_text(_microdata(40).to_csv(index=False), encoding="utf-8")
    with pytest.raises(AnonymizeError, match=r"plot\.png"):
        check_output_file(path, kind="figure")


def test_records_dumped_as_json_are_not_a_model(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(_microdata(40).to_dict(orient="records")), encoding="utf-8")
    with pytest.raises(AnonymizeError, match=r"model\.json"):
        check_output_file(path, kind="model")


def test_real_images_and_prose_keep_their_kinds(tmp_path):
    figure, note = tmp_path / "plot.png", tmp_path / "notes.txt"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    note.write_text("Mean income rose in every district, more in 세종 than elsewhere.\n"
                    "We suppressed cells under 10.\n", encoding="utf-8")
    assert infer_kind(figure) == "figure" and infer_kind(note) == "text"
    assert [v.review for v in check_output_file(figure, kind="figure")][-1]


def test_a_magnitude_table_of_single_people_is_held(tmp_path):
    """Income per district where each district has one person: the cell is their income."""
    frame = pd.DataFrame({"district": ["Jongno", "Jung", "Yongsan"],
                          "income": [35200, 41800, 29900]})
    path = tmp_path / "income.csv"
    frame.to_csv(path, index=False)
    assert _held(check_output_file(path, kind="frequency_table")) == [
        "kind", "magnitude_evidence"]
    assert _held(check_output_file(path, kind="magnitude_table")) == ["magnitude_evidence"]
    table = magnitude_table(frame, ["district"], "income")
    table.to_csv(path, index=False)
    held = _held(check_output_file(path))
    assert {"min_cell_count", "dominance", "p_percent"} <= set(held)


def test_a_safe_magnitude_table_passes_and_leaves_without_its_evidence(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"district": np.repeat(["Jongno", "Jung"], 40),
                          "income": rng.integers(2000, 4000, 80) * 10})
    path = tmp_path / "income.csv"
    magnitude_table(frame, ["district"], "income").to_csv(path, index=False)
    verdicts = check_output_file(path)
    assert not _held(verdicts), verdicts
    assert infer_kind(path) == "magnitude_table"
    out = tmp_path / "released.csv"
    without_evidence(path, out)
    released = pd.read_csv(out)
    assert list(released.columns) == ["district", "total", "contributors"]
    assert released["total"].tolist() == frame.groupby("district")["income"].sum().tolist()


def test_acro_defaults_are_the_defaults():
    limits = OutputThresholds()
    assert (limits.min_cell_count, limits.dominance_n, limits.dominance_k,
            limits.p_percent) == (10, 2, 90.0, 10.0)
