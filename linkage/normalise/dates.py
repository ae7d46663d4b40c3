"""Dates of birth (and any date) to ISO ``YYYY-MM-DD``.

Korean records write one date many ways: 19560108, 1956-01-08, 1956.1.8, ``1956. 1. 8.``,
1956년 1월 8일, 56.01.08, 560108. Each accepted layout is one anchored regex below; a value matches
at most one of them. Impossible dates (Feb 30, month 13) become null rather than rolling over.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import WHITESPACE, as_text, nfkc, split_paths

# (regex, two-digit year?) — tried in turn; the anchors make them mutually exclusive.
LAYOUTS: tuple[tuple[str, bool], ...] = (
    (r"^(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})$", False),
    (r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$", False),
    (r"^(?P<y>\d{2})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})$", True),
    (r"^(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})$", True),
)
# A time of day after the date, as spreadsheets and databases export it.
TIME_SUFFIX = r"(?:T|" + WHITESPACE + r")+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + WHITESPACE + "*$"
ISO = r"^\d{4}-\d{2}-\d{2}$"
OLDEST_YEAR = 1800  # RRN sex digits 9 and 0 still denote births in the 1800s
MAX_AGE = 110

_DAYS_IN_MONTH = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int32())


def _divisible(year: pa.Array, by: int) -> pa.Array:
    # Integer division and multiplication exist in every pyarrow we support; the modulo
    # kernel does not (pyarrow 25 lacks it).
    whole = pc.cast(year, pa.int64())
    return pc.equal(pc.multiply(pc.divide(whole, by), by), whole)


def is_leap_year(year: pa.Array) -> pa.Array:
    """Gregorian leap years, elementwise.

    >>> is_leap_year(pa.array([1900, 2000, 2024, 2026])).to_pylist()
    [False, True, True, False]
    """
    by4, by100, by400 = (_divisible(year, n) for n in (4, 100, 400))
    return pc.or_(pc.and_(by4, pc.invert(by100)), by400)


def is_valid_date(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.Array:
    """True where (year, month, day) is a real calendar date; false (never null) otherwise."""
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    safe_month = pc.if_else(month_ok, month, 0)
    days = pc.take(_DAYS_IN_MONTH, pc.cast(safe_month, pa.int32()))
    feb29 = pc.and_(pc.equal(safe_month, 2), is_leap_year(year))
    days = pc.add(pc.cast(days, pa.int32()), pc.cast(feb29, pa.int32()))
    day_ok = pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days))
    return pc.fill_null(pc.and_(month_ok, day_ok), False)


def date_number(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.Array:
    """YYYYMMDD as one integer, for ordering dates without building them."""
    return pc.add(pc.add(pc.multiply(year, 10000), pc.multiply(month, 100)), day)


def iso_date(year: pa.Array, month: pa.Array, day: pa.Array, valid: pa.Array) -> pa.Array:
    """ISO strings where ``valid`` holds, null elsewhere."""

    def padded(part: pa.Array, width: int) -> pa.Array:
        return pc.utf8_lpad(pc.cast(part, pa.string()), width=width, padding="0")

    text = pc.binary_join_element_wise(padded(year, 4), padded(month, 2), padded(day, 2), "-")
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))


def today_number(today: dt.date | None = None) -> int:
    """Today (or the given day) as YYYYMMDD, the form :func:`date_number` compares with."""
    today = today or dt.date.today()
    return today.year * 10000 + today.month * 100 + today.day


def normalise_date(
    values: pa.Array | pa.ChunkedArray,
    *,
    century: pa.Array | None = None,
    today: dt.date | None = None,
) -> pa.Array:
    """Any accepted layout to ISO ``YYYY-MM-DD``; null where missing or impossible.

    A two-digit year takes its century from ``century`` (1800, 1900 or 2000 per value, e.g. from
    the RRN) where given; otherwise the century that puts the date in the past, and no more than
    110 years ago.

    >>> raw = ["19560108", "1956-01-08", "1956.1.8", "1956. 1. 8.", "1956/01/08", "56.01.08",
    ...        "560108", "1956년 1월 8일", "1956-01-08 00:00:00"]
    >>> set(normalise_date(pa.array(raw)).to_pylist())
    {'1956-01-08'}
    >>> normalise_date(pa.array(["2021-02-29", "2020-02-29", "1956-13-01", "hello"])).to_pylist()
    [None, '2020-02-29', None, None]
    >>> normalise_date(pa.array(["10.03.01"]), century=pa.array([1900])).to_pylist()
    ['1910-03-01']
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        values = pc.cast(pc.cast(values, pa.date32()), pa.string())
    if century is not None and isinstance(century, pa.ChunkedArray):
        century = century.combine_chunks()

    def slow(text: pa.Array, rows: pa.Array) -> pa.Array:
        return _parse(text, None if century is None else pc.filter(century, rows), today)

    # ISO dates, as most files and every database export write them, need only checking.
    return split_paths(as_text(values), ISO, _check_iso, slow)


def _check_iso(text: pa.Array) -> pa.Array:
    """Values already ``YYYY-MM-DD``: kept where they are real dates from 1800 on."""
    year, month, day = (pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int32())
                        for start, stop in ((0, 4), (5, 7), (8, 10)))
    valid = pc.and_(is_valid_date(year, month, day), pc.greater_equal(year, OLDEST_YEAR))
    return pc.if_else(pc.fill_null(valid, False), text, pa.scalar(None, pa.string()))


def _parse(text: pa.Array, century: pa.Array | None, today: dt.date | None) -> pa.Array:
    """The general route: clean the text, try each layout, settle two-digit years."""
    text = nfkc(text)
    text = pc.replace_substring_regex(text, TIME_SUFFIX, "")
    text = pc.replace_substring_regex(text, "[년월]", "-")
    text = pc.replace_substring_regex(text, "일|" + WHITESPACE, "")
    text = pc.replace_substring_regex(text, r"[-./]+$", "")

    year, month, day = (pa.nulls(len(text), pa.int32()) for _ in range(3))
    two_digit = pa.repeat(pa.scalar(False), len(text))
    for pattern, short in LAYOUTS:
        parts = pc.extract_regex(text, pattern)
        found = pc.fill_null(pc.is_valid(parts), False)
        year, month, day = (
            pc.if_else(found, pc.cast(pc.struct_field(parts, name), pa.int32()), current)
            for name, current in (("y", year), ("m", month), ("d", day))
        )
        if short:
            two_digit = pc.or_(two_digit, found)

    now = today_number(today)
    in_2000s = pc.add(year, 2000)
    guessed = pc.if_else(
        pc.less_equal(date_number(in_2000s, month, day), now), in_2000s, pc.add(year, 1900)
    )
    recent_enough = pc.greater_equal(guessed, now // 10000 - MAX_AGE)
    if century is not None:
        given = pc.add(pc.cast(century, pa.int32()), year)
        recent_enough = pc.or_(pc.is_valid(given), recent_enough)
        guessed = pc.coalesce(given, guessed)
    year = pc.if_else(two_digit, guessed, year)
    valid = pc.and_(is_valid_date(year, month, day), pc.greater_equal(year, OLDEST_YEAR))
    valid = pc.fill_null(pc.and_(valid, pc.or_(pc.invert(two_digit), recent_enough)), False)
    return iso_date(year, month, day, valid)


def normalise_dob(
    values: pa.Array | pa.ChunkedArray,
    *,
    century: pa.Array | None = None,
    today: dt.date | None = None,
) -> pa.Array:
    """A date of birth: like :func:`normalise_date`, and a birth date in the future is invalid.

    >>> normalise_dob(pa.array(["1956. 1. 8.", "2999-01-01", "1956-02-30"])).to_pylist()
    ['1956-01-08', None, None]
    """
    iso = normalise_date(values, century=century, today=today)
    limit = (today or dt.date.today()).isoformat()
    return pc.if_else(pc.less_equal(iso, limit), iso, pa.scalar(None, pa.string()))
