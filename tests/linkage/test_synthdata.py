"""The synthetic holder files behave like real Korean registers and are fully reproducible."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from anonymize.hierarchies import load_admin_areas
from linkage.errors import LinkageError
from linkage.spec import ProjectSpec
from linkage.synthdata import BENEFIT_TYPES, ERROR_KINDS, generate

PEOPLE = 20_000
DATA_FILES = ("ssis.parquet", "building.parquet", "truth.parquet", "project.toml")


@pytest.fixture(scope="module")
def areas() -> pd.DataFrame:
    return load_admin_areas()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, areas):
    out = tmp_path_factory.mktemp("clean")
    report = generate(out, PEOPLE, areas=areas, seed=11, typo_rate=0.0, chunk_size=6_000)
    return out, report


@pytest.fixture(scope="module")
def noisy(tmp_path_factory, areas):
    out = tmp_path_factory.mktemp("noisy")
    report = generate(out, PEOPLE, areas=areas, seed=12, typo_rate=0.2, chunk_size=6_000)
    return out, report


def _read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / name)


def _pairs(out: Path) -> pd.DataFrame:
    truth = _read(out, "truth.parquet")
    ssis = _read(out, "ssis.parquet").set_index("record_id")
    building = _read(out, "building.parquet").set_index("record_id")
    return ssis.loc[truth["ssis_record_id"]].reset_index().join(
        building.loc[truth["building_record_id"]].reset_index(), rsuffix="_b")


def _digits(values: pd.Series) -> pd.Series:
    """A plain normaliser written for this test: no hyphens or spaces, +82 back to 0."""
    text = values.astype("string").str.replace(r"[\s-]", "", regex=True)
    return text.str.replace(r"^\+82", "0", regex=True)


def _expected_check_digit(rrn: str) -> int:
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    rest = sum(int(d) * w for d, w in zip(rrn[:12], weights, strict=True)) % 11
    foreigner = rrn[6] in "5678"
    return ((13 if foreigner else 11) - rest) % 10


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path, areas):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, 3_000, areas=areas, seed=seed, typo_rate=0.1, chunk_size=1_000)
        runs.append({f: (tmp_path / name / f).read_bytes() for f in DATA_FILES})
    assert runs[0] == runs[1]
    assert runs[0]["ssis.parquet"] != runs[2]["ssis.parquet"]
    assert runs[0]["building.parquet"] != runs[2]["building.parquet"]


def test_every_output_is_written_and_no_temporary_file_is_left(clean):
    out, report = clean
    assert sorted(p.name for p in out.iterdir()) == sorted([*DATA_FILES, "synth-data.json"])
    written = json.loads((out / "synth-data.json").read_text(encoding="utf-8"))
    assert written["rows"] == report.rows
    assert written["true_pairs"] == report.true_pairs
    assert written["seed"] == 11


def test_rrns_have_the_real_structure_and_valid_check_digits_before_october_2020(clean):
    ssis = _read(clean[0], "ssis.parquet")
    assert ssis["rrn"].str.fullmatch(r"\d{6}-\d{7}").all()
    rrn = ssis["rrn"].str.replace("-", "")
    assert rrn.is_unique
    century = rrn.str[6].map({"1": 1900, "2": 1900, "5": 1900, "6": 1900,
                              "3": 2000, "4": 2000, "7": 2000, "8": 2000})
    assert century.notna().all()
    dob = (century + rrn.str[:2].astype(int)).astype(str) + "-" + rrn.str[2:4] + "-" + rrn.str[4:6]
    assert (dob == ssis["dob"]).all()
    assert (ssis["birth_year"] == ssis["dob"].str[:4].astype(int)).all()
    male = rrn.str[6].astype(int) % 2 == 1
    assert (ssis["sex"] == np.where(male, "M", "F")).all()
    foreigners = rrn.str[6].isin(list("5678")).mean()
    assert 0.005 < foreigners < 0.06
    checked = ssis["dob"] < "2020-10-01"
    assert checked.mean() > 0.9
    expected = rrn[checked].map(_expected_check_digit)
    assert (expected == rrn[checked].str[12].astype(int)).all()
    # After October 2020 the last digit is random: some of them fail the old rule.
    late = rrn[~checked]
    assert (late.map(_expected_check_digit) != late.str[12].astype(int)).any()


def test_names_phones_and_postcodes_look_korean(clean):
    ssis = _read(clean[0], "ssis.parquet")
    assert ssis["name"].str.fullmatch(r"[가-힣]{2,5}").all()
    surnames = ssis["name"].str[0].value_counts(normalize=True)
    assert list(surnames.index[:3]) == ["김", "이", "박"]
    assert 0.17 < surnames["김"] < 0.26
    assert (ssis["name"].str.len() == 3).mean() > 0.85
    phone = ssis["phone"].dropna()
    assert phone.str.fullmatch(r"01[016789]-\d{4}-\d{4}").all()
    assert phone.str.startswith("010").mean() > 0.9
    assert phone.is_unique
    assert 0.01 < ssis["phone"].isna().mean() < 0.2
    assert ssis["postcode"].str.fullmatch(r"\d{5}").all()


def test_areas_come_from_the_admin_area_table(clean, areas):
    out = clean[0]
    known = set(zip(areas["sido"], areas["sigungu"], strict=True))
    for name in ("ssis.parquet", "building.parquet"):
        frame = _read(out, name)
        assert set(zip(frame["sido"], frame["sigungu"], strict=True)) <= known
        assert frame.apply(lambda r: r["address"].startswith(r["sido"]), axis=1).all()
    shares = _read(out, "ssis.parquet")["sido"].value_counts(normalize=True)
    assert list(shares.index[:2]) == ["경기도", "서울특별시"]


def test_benefits_are_consistent_with_age_and_household(clean):
    ssis = _read(clean[0], "ssis.parquet")
    age = 2024 - ssis["birth_year"]
    kind = ssis["benefit_type"]
    assert set(kind) <= set(BENEFIT_TYPES)
    assert set(kind) == set(BENEFIT_TYPES)
    assert (age[kind == "기초연금"] >= 64).all()
    parents = ssis[kind == "아동수당"]
    assert ((2024 - parents["birth_year"]).between(17, 60)).all()
    assert (parents["household_size"] >= 2).all()
    assert ((ssis["benefit_amount"] == 0) == (kind == "none")).all()
    assert (ssis.loc[kind == "기초연금", "benefit_amount"] <= 334_810).all()
    assert (ssis.loc[kind == "아동수당", "benefit_amount"] % 100_000 == 0).all()
    assert (ssis.loc[age < 17, "income"] == 0).all()
    assert ssis["income"].mean() > ssis["income"].median()
    assert ssis["household_size"].between(1, 6).all()


def test_overlap_share_is_close_to_the_requested_one(clean):
    out, report = clean
    truth = _read(out, "truth.parquet")
    assert len(truth) == report.true_pairs
    assert abs(len(truth) / PEOPLE - 0.5) < 0.02
    assert truth["ssis_record_id"].is_unique and truth["building_record_id"].is_unique
    building = _read(out, "building.parquet")
    assert len(building) == report.rows["building"] > len(truth)


def test_true_pairs_are_the_same_people(clean):
    pairs = _pairs(clean[0])
    rrn = pairs["owner_rrn"]
    assert (rrn.str[:6] == pairs["dob"].str[2:4] + pairs["dob"].str[5:7]
            + pairs["dob"].str[8:10]).all()
    assert ((rrn.str[6].astype(int) % 2 == 1) == (pairs["sex"] == "M")).all()
    assert (pairs["sido"] == pairs["sido_b"]).all()


def test_without_typos_building_identifiers_equal_ssis_ones_after_normalising(clean):
    pairs = _pairs(clean[0])
    assert (pairs["owner_name"].str.replace(" ", "") == pairs["name"]).all()
    assert (pairs["owner_rrn"] == pairs["rrn"].str.replace("-", "")).all()
    same_phone = _digits(pairs["owner_phone"]).fillna("") == _digits(pairs["phone"]).fillna("")
    assert same_phone.all()
    # ...but never in the same layout: the formats differ by design.
    assert not (pairs["owner_rrn"] == pairs["rrn"]).any()
    phones = pairs["phone"].notna()
    assert not (pairs.loc[phones, "owner_phone"] == pairs.loc[phones, "phone"]).any()
    assert pairs["owner_name"].str.contains(" ").any()
    assert pairs["owner_phone"].str.startswith("+82").any()


def test_typo_rate_puts_exactly_one_error_on_that_share_of_pairs(noisy):
    out, report = noisy
    pairs = _pairs(out)
    wrong_name = pairs["owner_name"].str.replace(" ", "") != pairs["name"]
    wrong_rrn = pairs["owner_rrn"].fillna("") != pairs["rrn"].str.replace("-", "")
    wrong_phone = _digits(pairs["owner_phone"]).fillna("") != _digits(pairs["phone"]).fillna("")
    errors = wrong_name.astype(int) + wrong_rrn.astype(int) + wrong_phone.astype(int)
    assert (errors <= 1).all()
    assert abs((errors == 1).mean() - 0.2) < 0.02
    assert set(report.errors) == set(ERROR_KINDS)
    assert all(count > 0 for count in report.errors.values())
    assert abs(sum(report.errors.values()) / report.rows["building"] - 0.2) < 0.02


def test_exact_recipes_in_turn_recover_nearly_every_pair_at_five_percent_typos(tmp_path, areas):
    generate(tmp_path, PEOPLE, areas=areas, seed=5, typo_rate=0.05)
    pairs = _pairs(tmp_path)
    name_b = pairs["owner_name"].str.replace(" ", "")
    rrn_b = pairs["owner_rrn"]
    dob_b = rrn_b.str[:6]
    sex_b = rrn_b.str[6]
    by_rrn = rrn_b == pairs["rrn"].str.replace("-", "")
    by_name_dob_sex = ((name_b == pairs["name"]) & (dob_b == pairs["rrn"].str[:6])
                       & (sex_b == pairs["rrn"].str[7]))
    by_name_phone = ((name_b == pairs["name"]) & pairs["phone"].notna()
                     & (_digits(pairs["owner_phone"]) == _digits(pairs["phone"])))
    recall = (by_rrn | by_name_dob_sex.fillna(False) | by_name_phone.fillna(False)).mean()
    assert recall >= 0.995


def test_chunk_size_changes_the_draws_but_not_the_totals(tmp_path, areas):
    small = generate(tmp_path / "small", 5_000, areas=areas, seed=1, chunk_size=1_000)
    whole = generate(tmp_path / "whole", 5_000, areas=areas, seed=1, chunk_size=500_000)
    assert small.people == whole.people == 5_000
    assert small.rows["ssis"] == whole.rows["ssis"] == 5_000
    assert small.rows["building"] - small.true_pairs == whole.rows["building"] - whole.true_pairs
    assert abs(small.true_pairs - whole.true_pairs) < 250
    ssis = _read(tmp_path / "small", "ssis.parquet")
    assert ssis["record_id"].is_unique and ssis["rrn"].is_unique
    building = _read(tmp_path / "small", "building.parquet")
    assert building["record_id"].is_unique
    assert building["owner_rrn"].dropna().is_unique


def test_csv_output_is_utf8_and_carries_the_same_columns(tmp_path, areas):
    report = generate(tmp_path, 2_000, areas=areas, seed=2, fmt="csv", typo_rate=0.1,
                      chunk_size=700)
    ssis = pd.read_csv(tmp_path / "ssis.csv", encoding="utf-8", dtype=str)
    building = pd.read_csv(tmp_path / "building.csv", encoding="utf-8", dtype=str)
    assert len(ssis) == report.rows["ssis"] and len(building) == report.rows["building"]
    assert ssis["name"].str.fullmatch(r"[가-힣]{2,5}").all()
    assert ssis["postcode"].str.len().eq(5).all()
    assert list(building.columns)[:4] == ["record_id", "owner_name", "owner_rrn", "owner_phone"]
    assert (tmp_path / "truth.parquet").exists()


def test_project_spec_is_valid_and_never_lets_identifiers_travel(clean):
    out = clean[0]
    spec = ProjectSpec.load(out / "project.toml")
    assert spec.holder_ids == ["ssis", "building"]
    assert [r.fields for r in spec.recipes] == [("rrn",), ("name", "dob", "sex"),
                                                ("name", "phone")]
    ssis = _read(out, "ssis.parquet")
    building = _read(out, "building.parquet")
    for holder, frame in (("ssis", ssis), ("building", building)):
        declared = spec.holder(holder)
        assert set(declared.identifiers) | set(declared.attributes) <= set(frame.columns)
        assert not set(declared.attributes) & {"name", "rrn", "phone", "address", "owner_name",
                                               "owner_rrn", "owner_phone", "dob"}
    assert "birth_year" in spec.holder("ssis").attributes
    raw = tomllib.loads((out / "project.toml").read_text(encoding="utf-8"))
    assert raw["project"]["mode"] == "exact"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"people": 0}, "people"),
    ({"typo_rate": 1.5}, "typo rate"),
    ({"overlap": -0.1}, "overlap"),
    ({"building_only": 1.5}, "building-only share"),
    ({"people": 60_000_000, "building_only": 0.5}, "building-only owners together"),
    ({"fmt": "xlsx"}, "format"),
    ({"chunk_size": 0}, "chunk size"),
])
def test_bad_parameters_are_refused_with_a_clear_message(tmp_path, areas, kwargs, message):
    args = {"people": 10, **kwargs}
    people = args.pop("people")
    with pytest.raises(LinkageError, match=message):
        generate(tmp_path, people, areas=areas, **args)
    assert not any(tmp_path.iterdir())


def test_an_areas_table_without_the_needed_columns_is_refused(tmp_path, areas):
    with pytest.raises(LinkageError, match="sigungu_code"):
        generate(tmp_path, 10, areas=areas.drop(columns=["sigungu_code"]))


def test_the_linkage_normalisers_make_both_holders_identifiers_agree(clean):
    import pyarrow as pa

    from linkage.normalise import normalise_name, normalise_phone, normalise_rrn

    pairs = _pairs(clean[0])
    for normalise, ours, theirs in ((normalise_rrn, "rrn", "owner_rrn"),
                                    (normalise_phone, "phone", "owner_phone"),
                                    (normalise_name, "name", "owner_name")):
        left = normalise(pa.array(pairs[ours].tolist(), pa.string())).to_pylist()
        right = normalise(pa.array(pairs[theirs].tolist(), pa.string())).to_pylist()
        assert left == right, ours
        present = pairs[ours].notna()
        assert sum(value is not None for value in left) == present.sum(), ours


def test_a_national_run_pairs_many_people_with_a_smaller_register(tmp_path, areas):
    # 51M people beside a 10M building register: few owners, few owners without welfare.
    report = generate(tmp_path, 20_000, areas=areas, seed=5, overlap=0.16, building_only=0.04,
                      chunk_size=7_000)
    assert report.rows["ssis"] == 20_000
    assert report.rows["building"] == report.true_pairs + 800
    assert 0.14 < report.true_pairs / 20_000 < 0.18
    assert pq.read_table(tmp_path / "truth.parquet").num_rows == report.true_pairs
    assert json.loads((tmp_path / "synth-data.json").read_text())["building_only"] == 0.04
