"""The cheap routes for values already written the usual way agree with the full cleaning."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.normalise import dates, name, phone, rrn

HANGUL = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1,
                 max_size=5)
LATIN = st.lists(st.text("ABCXYZ", min_size=1, max_size=5), min_size=1, max_size=3).map(" ".join)
DIGITS = st.text("0123456789", min_size=1, max_size=1)


def both_routes(values, fast, slow):
    array = pa.array([*values, None, "x"], pa.string())
    return fast(array).to_pylist(), slow(array, None).to_pylist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(HANGUL, LATIN), min_size=1, max_size=20))
def test_names_already_normal_skip_cleaning_with_the_same_result(values):
    fast, slow = both_routes(values, name.normalise_name, name._clean)
    assert fast == slow


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(DIGITS, min_size=11, max_size=11).map(
    lambda d: f"010-{''.join(d[:4])}-{''.join(d[4:8])}"), min_size=1, max_size=20))
def test_mobile_numbers_take_the_quick_route_with_the_same_result(values):
    fast, slow = both_routes(values, phone.normalise_phone, phone._clean)
    assert fast == slow


@settings(max_examples=50, deadline=None)
@given(st.lists(st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10),
                min_size=1, max_size=20))
def test_iso_dates_are_checked_not_reparsed(values):
    array = pa.array(values, pa.string())
    assert dates.normalise_date(array).to_pylist() == dates._parse(array, None, None).to_pylist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("0123456789", min_size=13, max_size=13).map(
    lambda d: f"{d[:6]}-{d[6:]}"), min_size=1, max_size=20))
def test_hyphenated_rrns_read_like_fully_cleaned_ones(values):
    array = pa.array(values, pa.string())
    cleaned = [v.replace("-", "") for v in values]
    spaced = pa.array([f" {v[:6]} \u2010 {v[7:]}" for v in values], pa.string())
    assert rrn.normalise_rrn(array).to_pylist() == rrn.normalise_rrn(spaced).to_pylist()
    assert rrn.normalise_rrn(pa.array(cleaned)).to_pylist() == \
        rrn.normalise_rrn(array).to_pylist()
