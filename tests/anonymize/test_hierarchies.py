"""The hierarchies shipped with the product generalise as an officer expects, and every level
nests in the next (the search's pruning relies on it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError
from anonymize.hierarchies import (
    AdminAreaHierarchy,
    DateHierarchy,
    age_hierarchy,
    birth_year_hierarchy,
    income_hierarchy,
    infer_hierarchies,
    load_admin_areas,
)


def test_admin_area_generalises_sigungu_to_sido_to_nation():
    h = AdminAreaHierarchy("시군구")
    s = pd.Series(["경기도 수원시 장안구"])
    assert [h.generalise(s, level).iloc[0] for level in h.levels] == [
        "경기도 수원시 장안구", "경기도", "전국"]


def test_every_shipped_sigungu_reaches_its_own_sido():
    areas = load_admin_areas()
    h = AdminAreaHierarchy("시군구")
    assert h.generalise(areas["sigungu_code"], "시도").tolist() == areas["sido"].tolist()


def test_bare_ambiguous_sigungu_needs_its_sido_column():
    frame = pd.DataFrame({"sido": ["부산광역시", "대구광역시"], "sigungu": ["중구", "중구"]})
    with pytest.raises(AnonymizeError, match="ambiguous"):
        AdminAreaHierarchy("시군구").generalise(frame["sigungu"], "시도")
    h = AdminAreaHierarchy("시군구", sido_column="sido")
    assert h.generalise(h.prepare(frame, "sigungu"), "시군구").tolist() == [
        "부산광역시 중구", "대구광역시 중구"]


def test_emd_code_maps_to_sigungu_by_its_first_five_digits_including_legacy_codes():
    h = AdminAreaHierarchy("읍면동")
    codes = pd.Series(["1111010100", "4272000000", "4772000000"])
    assert h.generalise(codes, "읍면동").tolist() == ["1111010100", "5172000000", "2772000000"]
    assert h.generalise(codes, "시군구").tolist() == [
        "서울특별시 종로구", "강원특별자치도 홍천군", "대구광역시 군위군"]


def test_age_bands_and_top_coding():
    h = age_hierarchy()
    assert h.generalise(pd.Series([37, 87, 85, 84]), "5-year").tolist() == [
        "35-39", "85+", "85+", "80-84"]
    assert h.generalise(pd.Series([37]), "20-year").tolist() == ["20-39"]


def test_dates_generalise_day_month_year():
    h = DateHierarchy()
    s = pd.Series(pd.to_datetime(["2024-03-15"]))
    assert [h.generalise(s, lv).iloc[0] for lv in ("month", "year", "*")] == [
        "2024-03", "2024", "*"]


def test_bad_date_names_the_row():
    with pytest.raises(AnonymizeError, match="row 2"):
        DateHierarchy().generalise(pd.Series(["2024-01-01", "yesterday"], name="d"), "year")


@pytest.mark.parametrize("hierarchy", [age_hierarchy(), birth_year_hierarchy(2025),
                                       income_hierarchy(top=50_000_000, bottom=1_000_000)])
def test_every_band_level_nests_in_the_next(hierarchy):
    values = pd.Series(np.random.default_rng(0).integers(0, 120_000_000, 2000)
                       if hierarchy.kind == "income" else np.arange(1900, 2026)
                       if hierarchy.kind == "birth_year" else np.arange(0, 110))
    for level in range(hierarchy.height):
        fine = hierarchy.generalise(values, level).astype(str)
        coarse = hierarchy.generalise(values, level + 1).astype(str)
        assert (pd.DataFrame({"f": fine, "c": coarse}).groupby("f")["c"].nunique() == 1).all()


def test_demo_columns_get_sensible_hierarchies():
    frame = pd.DataFrame({"ssis__sido": ["서울특별시"], "ssis__sigungu": ["중구"],
                          "ssis__birth_year": [1980], "ssis__income": [10_000_000],
                          "ssis__sex": ["F"]})
    kinds = {c: h.kind for c, h in infer_hierarchies(frame, list(frame.columns)).items()}
    assert kinds == {"ssis__sido": "admin_area", "ssis__sigungu": "admin_area",
                     "ssis__birth_year": "birth_year", "ssis__income": "income",
                     "ssis__sex": "category"}
