"""The shipped 시도 / 시군구 table reflects Korea's areas as they are today, not as in 2020."""

from __future__ import annotations

from anonymize.hierarchies import load_admin_areas


def test_there_are_seventeen_sido():
    areas = load_admin_areas()
    assert areas["sido"].nunique() == 17
    assert areas["sido_code"].nunique() == 17


def test_gangwon_and_jeonbuk_are_special_self_governing_provinces_with_new_codes():
    areas = load_admin_areas()
    sido = dict(zip(areas["sido_code"], areas["sido"], strict=False))
    assert sido["51"] == "강원특별자치도"
    assert sido["52"] == "전북특별자치도"
    assert not set(areas["sido"]) & {"강원도", "전라북도"}
    assert areas.loc[areas["sido_code"] == "51", "sigungu"].str.contains("춘천시").any()
    assert areas.loc[areas["sido_code"] == "52", "sigungu"].str.contains("전주시").any()


def test_no_code_keeps_the_retired_prefixes_42_or_45():
    areas = load_admin_areas()
    for column in ("sido_code", "sigungu_code"):
        assert not areas[column].str.startswith(("42", "45")).any(), column


def test_gunwi_belongs_to_daegu():
    areas = load_admin_areas()
    gunwi = areas[areas["sigungu"] == "군위군"]
    assert gunwi[["sido_code", "sido", "sigungu_code"]].values.tolist() == [
        ["27", "대구광역시", "27720"]]
    assert "47720" not in set(areas["sigungu_code"])


def test_codes_have_their_fixed_widths_and_nest_in_their_sido():
    areas = load_admin_areas()
    assert list(areas.columns) == ["sido_code", "sido", "sigungu_code", "sigungu"]
    assert (areas["sido_code"].str.len() == 2).all()
    assert (areas["sigungu_code"].str.len() == 5).all()
    assert (areas["sigungu_code"].str[:2] == areas["sido_code"]).all()
    assert areas["sigungu_code"].is_unique


def test_cities_with_districts_appear_through_their_districts_only():
    areas = load_admin_areas()
    names = set(areas["sigungu"])
    assert "수원시 장안구" in names
    assert "수원시" not in names
    assert areas.loc[areas["sido_code"] == "36", "sigungu"].tolist() == ["세종특별자치시"]
