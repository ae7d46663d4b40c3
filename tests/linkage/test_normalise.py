"""Literal examples of each normalisation rule, and of each way a value can be invalid."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from linkage.normalise import (
    KINDS,
    is_invalid,
    normalise_address,
    normalise_ci,
    normalise_column,
    normalise_dob,
    normalise_identifiers,
    normalise_name,
    normalise_phone,
    normalise_postcode,
    normalise_rrn,
    normalise_sex,
    normalise_text,
    rrn_birth_date,
    rrn_sex,
)

W = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)


def with_check_digit(first12: str) -> str:
    total = sum(int(d) * w for d, w in zip(first12, W, strict=True))
    foreigner = first12[6] in "5678"
    return first12 + str(((13 if foreigner else 11) - total % 11) % 10)


def norm(function, values):
    return function(pa.array(values, pa.string())).to_pylist()


def test_kinds_are_the_ones_the_spec_names():
    assert {
        "name", "given_name", "surname", "rrn", "dob", "sex",
        "phone", "address", "postcode", "postcode_any", "ci", "text", "id",
    } == KINDS  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("김 철수", "김철수"),
        ("김  철 수", "김철수"),
        (" 김철수\t", "김철수"),
        ("John  Smith", "JOHN SMITH"),
        ("john smith", "JOHN SMITH"),
        ("Ｊｏｈｎ　Ｓｍｉｔｈ", "JOHN SMITH"),
        ("J. Smith", "J SMITH"),
        ("O'Brien", "OBRIEN"),
        ("Hong Gil-dong", "HONG GIL DONG"),
        ("마이클·잭슨", "마이클잭슨"),
        ("김 John", "김 JOHN"),
        ("\u1100\u1161\u11a8", "각"),  # decomposed jamo compose into the syllable
        ("김\u200b철수", "김철수"),
    ],
)
def test_names_agree_across_spellings(raw, expected):
    assert norm(normalise_name, [raw]) == [expected]


@pytest.mark.parametrize("raw", ["", "   ", "...", "-", "010-1234-5678", "홍길동2", None])
def test_names_without_letters_or_with_digits_are_missing_or_invalid(raw):
    assert norm(normalise_name, [raw]) == [None]


def test_given_name_and_surname_follow_the_name_rules():
    for kind in ("given_name", "surname"):
        assert normalise_column(kind, pa.array([" 철 수 ", "smith"])).to_pylist() == [
            "철수",
            "SMITH",
        ]


@pytest.mark.parametrize(
    "raw", ["5601081234564", "560108-1234564", "560108 1234564", "５６０１０８－１２３４５６４",
            " 560108 - 1234564 ", "560108–1234564"],
)  # fmt: skip
def test_rrn_spellings_normalise_to_thirteen_digits(raw):
    assert norm(normalise_rrn, [raw]) == ["5601081234564"]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("5601081234567", "wrong check digit, born before 2020-10"),
        ("56010812345", "too short"),
        ("56010812345641", "too long"),
        ("5613081234564", "month 13"),
        ("5602301234564", "30 February"),
        ("0102294234567", "29 February 2001 is not a date"),
        ("56O1081234564", "a letter"),
        ("9912313123456", "born 2099"),
    ],
)
def test_invalid_rrns_become_null(raw, why):
    assert norm(normalise_rrn, [raw]) == [None], why


def test_rrn_check_digit_is_checked_only_for_births_before_october_2020():
    old = with_check_digit("200930312345")
    wrong_old = old[:-1] + str((int(old[-1]) + 1) % 10)
    new = "2010013" + "987654"  # born 2020-10-01: the last digit is random
    assert norm(normalise_rrn, [old, wrong_old, new]) == [old, None, new]
    relaxed = normalise_rrn(pa.array([wrong_old]), strict_check_digit=False).to_pylist()
    assert relaxed == [wrong_old]


def test_foreigner_numbers_use_their_own_check_digit():
    foreigner = with_check_digit("850315512345")
    assert norm(normalise_rrn, [foreigner]) == [foreigner]
    total = sum(int(d) * w for d, w in zip(foreigner[:12], W, strict=True))
    korean_rule = foreigner[:12] + str((11 - total % 11) % 10)
    assert korean_rule == foreigner or norm(normalise_rrn, [korean_rule]) == [None]


def test_rrn_gives_birth_date_and_sex_across_centuries():
    rrns = [
        with_check_digit("560108123456"),  # Korean man, 1900s
        with_check_digit("010203423456"),  # Korean woman, 2000s
        with_check_digit("850315612345"),  # foreign woman, 1900s
        with_check_digit("050607712345"),  # foreign man, 2000s
        with_check_digit("991231912345"),  # man, 1800s
        with_check_digit("991231012345"),  # woman, 1800s
    ]
    assert rrn_birth_date(pa.array(rrns)).to_pylist() == [
        "1956-01-08", "2001-02-03", "1985-03-15", "2005-06-07", "1899-12-31", "1899-12-31",
    ]  # fmt: skip
    assert rrn_sex(pa.array(rrns)).to_pylist() == ["M", "F", "F", "M", "M", "F"]


def test_rrn_column_typed_as_integer_keeps_its_leading_zero():
    rrn = with_check_digit("010203423456")
    assert normalise_rrn(pa.array([int(rrn)])).to_pylist() == [rrn]


@pytest.mark.parametrize(
    "raw",
    ["19560108", "1956-01-08", "1956.1.8", "1956. 1. 8.", "1956/01/08", "56.01.08", "560108",
     "1956년 1월 8일", "１９５６－０１－０８", "1956-01-08T00:00:00", "1956-01-08 13:45"],
)  # fmt: skip
def test_date_of_birth_layouts_agree(raw):
    assert norm(normalise_dob, [raw]) == ["1956-01-08"]


@pytest.mark.parametrize(
    "raw", ["1956-02-30", "2021-02-29", "1956-13-01", "1956-00-10", "3000-01-01", "1956", "abc",
            "19560132", "1700-01-01"],
)  # fmt: skip
def test_impossible_or_future_dates_become_null(raw):
    assert norm(normalise_dob, [raw]) == [None]


def test_two_digit_year_without_rrn_is_in_the_past():
    today = dt.date(2026, 5, 1)
    got = normalise_dob(pa.array(["26.04.30", "26.05.02", "00.02.29", "15.01.01"]), today=today)
    assert got.to_pylist() == ["2026-04-30", "1926-05-02", "2000-02-29", "2015-01-01"]


def test_date_typed_column_is_accepted():
    values = pa.array([dt.date(1956, 1, 8), None], pa.date32())
    assert normalise_dob(values).to_pylist() == ["1956-01-08", None]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("M", "M"), ("F", "F"), ("m", "M"), ("남", "M"), ("여", "F"), ("남자", "M"), ("여자", "F"),
     ("1", "M"), ("2", "F"), ("male", "M"), ("FEMALE", "F"), (" Female ", "F"), ("Ｍ", "M"),
     ("x", None), ("3", None), ("", None), (None, None)],
)  # fmt: skip
def test_sex_spellings(raw, expected):
    assert norm(normalise_sex, [raw]) == [expected]


@pytest.mark.parametrize(
    "raw",
    ["+82 10-1234-5678", "010-1234-5678", "010 1234 5678", "(010)1234-5678", "82-10-1234-5678",
     "+82-10-1234-5678", "0082 10 1234 5678", "+82 (0)10-1234-5678", "010.1234.5678",
     "０１０－１２３４－５６７８", "01012345678"],
)  # fmt: skip
def test_mobile_number_spellings_agree(raw):
    assert norm(normalise_phone, [raw]) == ["01012345678"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("011-234-5678", "0112345678"), ("016-1234-5678", "01612345678"),
     ("019 123 4567", "0191234567"), ("02-123-4567", "021234567"),
     ("02-1234-5678", "0212345678"), ("031-123-4567", "0311234567"),
     ("+82 2 123 4567", "021234567"), ("064-712-3456", "0647123456"),
     ("070-1234-5678", "07012345678"), ("1588-1234", "15881234"),
     ("080-123-4567", "0801234567"), ("+1 (555) 123-4567", "+15551234567")],
)  # fmt: skip
def test_legacy_mobile_and_landline_numbers_keep_their_prefix(raw, expected):
    assert norm(normalise_phone, [raw]) == [expected]


@pytest.mark.parametrize(
    "raw", ["010-1234-567", "010-1234-56789", "1234", "012-345-6789", "099-123-4567",
            "010-1234-5678 ext. 2", "전화 없음", "+", ""],
)  # fmt: skip
def test_impossible_phone_numbers_become_null(raw):
    assert norm(normalise_phone, [raw]) == [None]


def test_phone_column_typed_as_integer_gets_its_trunk_zero_back():
    values = pa.array([1012345678, 212345678, 821012345678, 15881234, None])
    expected = ["01012345678", "0212345678", "01012345678", "15881234", None]
    assert normalise_phone(values).to_pylist() == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("서울시 종로구 세종대로 209", "서울특별시 종로구 세종대로 209"),
        ("서울  종로구\t세종대로 209.", "서울특별시 종로구 세종대로 209"),
        ("서울특별시 종로구 세종대로 209 (세종로)", "서울특별시 종로구 세종대로 209 (세종로)"),
        ("부산 해운대구", "부산광역시 해운대구"),
        ("광주 북구", "광주광역시 북구"),
        ("세종시 한누리대로 2130", "세종특별자치시 한누리대로 2130"),
        ("경기 수원시", "경기도 수원시"),
        ("강원도 춘천시", "강원특별자치도 춘천시"),
        ("강원 춘천시", "강원특별자치도 춘천시"),
        ("전라북도 전주시", "전북특별자치도 전주시"),
        ("전북 전주시", "전북특별자치도 전주시"),
        ("충북 청주시", "충청북도 청주시"),
        ("경남 창원시", "경상남도 창원시"),
        ("제주 제주시", "제주특별자치도 제주시"),
        ("제주시 연동", "제주시 연동"),
        ("광주시 오포읍", "광주시 오포읍"),
        ("서울", "서울특별시"),
        ("서울대학교", "서울대학교"),
        ("서울특별시 중구 ,;", "서울특별시 중구"),
    ],
)
def test_addresses_spell_the_province_officially(raw, expected):
    assert norm(normalise_address, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("03154", "03154"), (" 03154", "03154"), ("０３１５４", "03154"), ("110-034", "110034"),
     ("110034", "110034"), ("1234", None), ("1234567", None), ("12-345", None),
     ("031-54", None), ("abcde", None), ("", None)],
)  # fmt: skip
def test_postcodes_keep_new_five_and_old_six_digits(raw, expected):
    assert norm(normalise_postcode, [raw]) == [expected]


def test_postcode_typed_as_integer_keeps_its_leading_zero():
    assert normalise_postcode(pa.array([3154, 110034])).to_pylist() == ["03154", "110034"]


def test_ci_loses_whitespace_and_nothing_else():
    ci = "Ab+/" * 21 + "Ab=="
    wrapped = " " + ci[:44] + "\n" + ci[44:] + " "
    assert norm(normalise_ci, [wrapped, "", "  "]) == [ci, None, None]


def test_text_is_nfkc_with_whitespace_collapsed():
    assert norm(normalise_text, ["  Ａ　b\t\tc  ", "㈜한국", " "]) == ["A b c", "(주)한국", None]


def test_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="'shoe_size'"):
        normalise_column("shoe_size", pa.array(["42"]))
    with pytest.raises(ValueError, match="'shoe_size'"):
        is_invalid("shoe_size", pa.array(["42"]), pa.array(["42"]))


def test_invalid_means_given_but_not_normalisable():
    raw = pa.array(["010-1234-5678", "12", " ", "", None])
    normalised = normalise_column("phone", raw)
    assert is_invalid("phone", raw, normalised).to_pylist() == [False, True, False, False, False]


def test_chunked_columns_are_accepted():
    chunked = pa.chunked_array([["010-1234-5678"], ["+82 10 1234 5678", None]])
    assert normalise_column("phone", chunked).to_pylist() == ["01012345678"] * 2 + [None]
    empty = pa.chunked_array([], pa.string())
    for kind in KINDS:
        assert len(normalise_column(kind, empty)) == 0


def test_identifiers_are_one_column_per_kind_with_counts():
    rrn = with_check_digit("560108123456")
    table = pa.table(
        {
            "성명": ["김 철수", "John Smith", "이영희", "..."],
            "주민번호": [rrn, None, "0000000000000", None],
            "생년월일": [None, "1980/02/30", None, "1990-05-05"],
            "성별": [None, "남", "여", "woman"],
            "연락처": ["010-1234-5678", "12", None, "+82 2 123 4567"],
            "age": [70, 45, 30, 35],
        }
    )
    kinds = {"성명": "name", "주민번호": "rrn", "생년월일": "dob", "성별": "sex", "연락처": "phone"}
    result = normalise_identifiers(table, kinds)
    assert result.values.column_names == ["name", "rrn", "dob", "sex", "phone"]
    assert result.values.to_pydict() == {
        "name": ["김철수", "JOHN SMITH", "이영희", None],
        "rrn": [rrn, None, None, None],
        "dob": ["1956-01-08", None, None, "1990-05-05"],
        "sex": ["M", "M", "F", "F"],
        "phone": ["01012345678", None, None, "021234567"],
    }
    assert result.invalid_counts == {"name": 1, "rrn": 1, "dob": 1, "sex": 0, "phone": 1}
    assert result.derived == {"dob": 1, "sex": 1}


def test_two_digit_birth_year_takes_its_century_from_the_rrn():
    born_1910 = with_check_digit("100301123456")
    born_2010 = with_check_digit("100301323456")
    table = pa.table({"rrn": [born_1910, born_2010, None], "dob": ["10.03.01"] * 3})
    got = normalise_identifiers(table, {"rrn": "rrn", "dob": "dob"}).values.column("dob")
    assert got.to_pylist() == ["1910-03-01", "2010-03-01", "2010-03-01"]


def test_dob_and_sex_are_derived_from_the_rrn_when_the_holder_has_none():
    rrn = with_check_digit("850315612345")
    result = normalise_identifiers(pa.table({"r": [rrn, "bad"]}), {"r": "rrn"})
    assert result.values.to_pydict() == {
        "rrn": [rrn, None],
        "dob": ["1985-03-15", None],
        "sex": ["F", None],
    }
    assert result.derived == {"dob": 1, "sex": 1}
    assert result.invalid_counts == {"rrn": 1}


def test_identifier_mapping_errors_name_the_problem():
    table = pa.table({"a": ["x"], "b": ["y"]})
    with pytest.raises(ValueError, match=r"'a' and 'b'.*'name'"):
        normalise_identifiers(table, {"a": "name", "b": "name"})
    with pytest.raises(ValueError, match="'passport'"):
        normalise_identifiers(table, {"a": "passport"})
    with pytest.raises(ValueError, match="'c'"):
        normalise_identifiers(table, {"c": "name"})


def test_strict_check_digit_can_be_relaxed_for_a_holder():
    rrn = with_check_digit("850315512345")
    wrong = rrn[:-1] + str((int(rrn[-1]) + 1) % 10)
    table = pa.table({"r": [wrong]})
    assert normalise_identifiers(table, {"r": "rrn"}).invalid_counts == {"rrn": 1}
    relaxed = normalise_identifiers(table, {"r": "rrn"}, strict_check_digit=False)
    assert relaxed.values.column("rrn").to_pylist() == [wrong]
    assert relaxed.values.column("sex").to_pylist() == ["M"]
