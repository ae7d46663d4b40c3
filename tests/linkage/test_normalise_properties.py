"""Properties every normaliser must keep, checked on generated values.

Linkage keys hash the normalised value, so (1) normalising twice changes nothing, (2) every
spelling of one value gives one string, and (3) a column keeps its length and its gaps.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.normalise import (
    KINDS,
    is_invalid,
    normalise_address,
    normalise_column,
    normalise_dob,
    normalise_name,
    normalise_phone,
    normalise_rrn,
)

W = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
TODAY = dt.date.today()
FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})

hangul = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
digits = st.text("0123456789", min_size=1, max_size=16)
separators = st.sampled_from(["", " ", "-", ".", "/", "  ", "\t", "\u3000", "－"])
messy = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("0123456789 -+.()/가김철수남여abcABC년월일\u3000\u200b\x1f"),
        hangul,
    ),
    max_size=24,
)
# Kind-shaped strings reach the interesting branches far more often than arbitrary text.
shaped = st.one_of(
    messy,
    st.builds(lambda a, s, b: a + s + b, digits, separators, digits),
    st.builds(lambda p, d: p + d, st.sampled_from(["+82 ", "82-", "0082", "+1 ", "(0)"]), digits),
    st.builds(
        lambda w, r: w + r,
        st.sampled_from(["서울 ", "서울시", "강원도 ", "전북", "제주 ", "광주시 ", "경기 "]),
        messy,
    ),
)


def roundtrip(kind: str, values: list[str | None]) -> None:
    once = normalise_column(kind, pa.array(values, pa.string()))
    twice = normalise_column(kind, once)
    assert twice.to_pylist() == once.to_pylist(), kind
    # Linkage keys join a recipe's fields with the unit separator, so no value may contain it.
    assert not any("\x1f" in value for value in once.to_pylist() if value), kind


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), shaped), max_size=60))
def test_normalising_twice_changes_nothing_for_every_kind(values):
    for kind in KINDS:
        roundtrip(kind, values)


def with_check_digit(first12: str) -> str:
    total = sum(int(d) * w for d, w in zip(first12, W, strict=True))
    foreigner = first12[6] in "5678"
    return first12 + str(((13 if foreigner else 11) - total % 11) % 10)


SEX_DIGITS = {1800: "90", 1900: "1256", 2000: "3478"}


@st.composite
def rrns(draw, born_from=dt.date(1900, 1, 1), born_until=dt.date(2020, 9, 30)):
    born = draw(st.dates(born_from, min(born_until, TODAY)))
    century = born.year // 100 * 100
    sex = draw(st.sampled_from(SEX_DIGITS[century]))
    serial = draw(st.text("0123456789", min_size=5, max_size=5))
    return with_check_digit(born.strftime("%y%m%d") + sex + serial)


def spell(number: str, style: int) -> str:
    """One of the ways an RRN is written."""
    front, back = number[:6], number[6:]
    return [
        number,
        f"{front}-{back}",
        f"{front} {back}",
        f" {front} - {back} ",
        f"{front}-{back}".translate(FULLWIDTH),
        f"{front}\u2013{back}",
    ][style]


@given(rrns(), st.integers(0, 5))
def test_every_spelling_of_a_valid_rrn_normalises_to_its_digits(number, style):
    assert normalise_rrn(pa.array([spell(number, style)])).to_pylist() == [number]


@given(rrns(), st.integers(1, 9))
def test_a_wrong_check_digit_is_rejected_for_births_before_october_2020(number, shift):
    wrong = number[:-1] + str((int(number[-1]) + shift) % 10)
    assert normalise_rrn(pa.array([wrong])).to_pylist() == [None]
    assert normalise_rrn(pa.array([wrong]), strict_check_digit=False).to_pylist() == [wrong]


@given(rrns(born_from=dt.date(2020, 10, 1), born_until=TODAY), st.integers(0, 9))
def test_any_last_digit_is_accepted_for_births_from_october_2020(number, last):
    random_style = number[:-1] + str(last)
    assert normalise_rrn(pa.array([random_style])).to_pylist() == [random_style]


DATE_LAYOUTS = [
    lambda d: d.strftime("%Y%m%d"),
    lambda d: d.isoformat(),
    lambda d: f"{d.year}.{d.month}.{d.day}",
    lambda d: f"{d.year}. {d.month}. {d.day}.",
    lambda d: d.strftime("%Y/%m/%d"),
    lambda d: d.strftime("%y.%m.%d"),
    lambda d: d.strftime("%y%m%d"),
    lambda d: f"{d.year}년 {d.month}월 {d.day}일",
    lambda d: d.isoformat().translate(FULLWIDTH),
    lambda d: d.isoformat() + " 00:00:00",
]


@given(
    st.dates(TODAY.replace(year=TODAY.year - 99, day=1) + dt.timedelta(days=31), TODAY),
    st.integers(0, len(DATE_LAYOUTS) - 1),
)
def test_every_layout_of_a_birth_date_within_a_century_gives_the_iso_date(born, layout):
    written = DATE_LAYOUTS[layout](born)
    assert normalise_dob(pa.array([written])).to_pylist() == [born.isoformat()]


@given(st.text("0123456789", min_size=8, max_size=8), st.integers(0, 6))
def test_every_spelling_of_a_mobile_number_gives_its_digits(subscriber, style):
    middle, last = subscriber[:4], subscriber[4:]
    written = [
        f"010-{middle}-{last}",
        f"010 {middle} {last}",
        f"+82 10-{middle}-{last}",
        f"(010){middle}-{last}",
        f"82-10-{middle}-{last}",
        f"010-{middle}-{last}".translate(FULLWIDTH),
        f"0082 10 {middle} {last}",
    ][style]
    assert normalise_phone(pa.array([written])).to_pylist() == ["010" + subscriber]


@given(
    st.sampled_from(["02", "031", "051", "064", "011", "016", "019"]),
    st.text("0123456789", min_size=3, max_size=4).filter(lambda s: s[0] != "0"),
    st.text("0123456789", min_size=4, max_size=4),
    st.sampled_from(["{a}-{m}-{l}", "{a} {m} {l}", "({a}) {m}-{l}", "+82 {a1}-{m}-{l}"]),
)
def test_landline_and_legacy_mobile_spellings_keep_their_prefix(area, middle, last, layout):
    written = layout.format(a=area, a1=area[1:], m=middle, l=last)
    assert normalise_phone(pa.array([written])).to_pylist() == [area + middle + last]


@given(
    st.lists(hangul, min_size=2, max_size=4),
    st.lists(st.sampled_from(["", " ", "  ", "\u3000", "\t"]), min_size=3, max_size=3),
)
def test_a_hangul_name_spaced_any_way_is_one_name(syllables, gaps):
    written = "".join(s + gaps[i % 3] for i, s in enumerate(syllables))
    assert normalise_name(pa.array([" " + written])).to_pylist() == ["".join(syllables)]


@given(
    st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), min_size=1,
             max_size=3),
    st.sampled_from([str.lower, str.upper, str.title, lambda s: s.translate(FULLWIDTH)]),
    st.sampled_from([" ", "  ", "\u3000"]),
)  # fmt: skip
def test_a_latin_name_in_any_case_or_width_is_one_name(words, case, gap):
    written = gap.join(case(w) for w in words)
    assert normalise_name(pa.array([written])).to_pylist() == [" ".join(words).upper()]


@given(
    st.sampled_from(
        [("서울", "서울특별시"), ("서울시", "서울특별시"), ("강원도", "강원특별자치도"),
         ("전라북도", "전북특별자치도"), ("경북", "경상북도"), ("세종", "세종특별자치시")]
    ),
    st.sampled_from(["종로구 세종대로 209", "중앙로 1", "한누리대로 2130"]),
    st.sampled_from([" ", "  ", "\u3000"]),
    st.sampled_from(["", ".", " ,"]),
)  # fmt: skip
def test_an_address_in_any_province_spelling_is_one_address(sido, rest, gap, tail):
    short, official = sido
    expected = [f"{official} {rest}"]
    assert normalise_address(pa.array([short + gap + rest + tail])).to_pylist() == expected
    assert normalise_address(pa.array([official + " " + rest])).to_pylist() == expected


VALID_SPELLINGS = {
    "name": ["김 철수", "John Smith"],
    "given_name": ["철수"],
    "surname": ["김"],
    "rrn": ["560108-1234564"],
    "dob": ["1956. 1. 8.", "19560108"],
    "sex": ["남", "F"],
    "phone": ["+82 10-1234-5678", "02-123-4567"],
    "address": ["서울시 종로구 세종대로 209"],
    "postcode": ["110-034", "03154"],
    "postcode_any": ["SW1A 1AA", "2600", "k1a-0b1"],
    "ci": ["Ab+/" * 21 + "Ab=="],
    "text": [" any  text "],
    "id": [" AB-12 ", "ｘ９"],
}
INVALID_SPELLINGS = {
    "name": ["..."], "given_name": ["123"], "surname": ["-"], "rrn": ["5601081234567"],
    "dob": ["1956-02-30"], "sex": ["x"], "phone": ["12"], "postcode": ["1234"],
    "postcode_any": ["AB", "ABCD"],
}  # fmt: skip


def test_a_large_mixed_column_keeps_its_length_and_its_gaps():
    rng = np.random.default_rng(7)
    size = 100_000
    for kind in sorted(KINDS):
        choices = VALID_SPELLINGS[kind] + INVALID_SPELLINGS.get(kind, []) + [None, "", "  "]
        picks = pa.array(rng.integers(0, len(choices), size))
        values = pc.take(pa.array(choices, pa.string()), picks)
        out = normalise_column(kind, values)
        assert len(out) == size and out.type == pa.string()
        missing = pc.or_(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), ""))
        invalid = pc.is_in(values, value_set=pa.array(INVALID_SPELLINGS.get(kind, []), pa.string()))
        expected_null = pc.or_(pc.fill_null(missing, True), pc.fill_null(invalid, False))
        assert pc.is_null(out).equals(expected_null), kind
        assert is_invalid(kind, values, out).equals(pc.fill_null(invalid, False)), kind
