"""Resident registration numbers (주민등록번호) and foreigner registration numbers (외국인등록번호).

Layout: YYMMDD-GABCDEF. G, the seventh digit, gives sex and century (1/2: Koreans born in the
1900s, 3/4: 2000s, 5/6: foreigners 1900s, 7/8: foreigners 2000s, 9/0: the 1800s; odd is male).
Until October 2020 the last digit was a check digit over the first twelve; numbers issued since
then are random after G, so their last digit checks nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.dates import date_number, is_valid_date, iso_date, today_number
from linkage.normalise.text import WHITESPACE, as_text, is_numeric_type, nfkc, split_paths

WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
# Century per sex/century digit G (index = G).
CENTURY = pa.array([1800, 1900, 1900, 2000, 2000, 1900, 1900, 2000, 2000, 1800], pa.int32())
_CENTURY = CENTURY.to_numpy()
_WEIGHTS = np.array(WEIGHTS, np.int32)
_SEPARATORS = WHITESPACE + r"|\p{Pd}"
# Numbers issued from this date on carry no check digit.
RANDOM_SINCE = 20201001
_PLACEHOLDER = "0" * 13


class _Parts:
    """The digits of cleaned RRNs, with placeholders where a value is not 13 digits."""

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        text = as_text(values)
        if is_numeric_type(values):
            # A number column drops the leading zero of everyone born in 2000-2009.
            text = pc.utf8_lpad(text, width=13, padding="0")
        # "YYMMDD-GABCDEF" as most files write it needs only its hyphen dropped.
        text = split_paths(text, r"^\d{6}-?\d{7}$", lambda t: pc.replace_substring(t, "-", ""),
                           lambda t, _: pc.replace_substring_regex(nfkc(t), _SEPARATORS, ""))
        self.text = text
        self.shaped = pc.fill_null(pc.match_substring_regex(text, r"^\d{13}$"), False)
        # Every value is now 13 ASCII digits, so the data buffer is a 13-column digit matrix.
        safe = pc.if_else(self.shaped, text, _PLACEHOLDER).cast(pa.large_string())
        start = np.frombuffer(safe.buffers()[1], np.int64)[safe.offset]
        size = 13 * len(safe)
        data = safe.buffers()[2]
        raw = np.frombuffer(data, np.uint8)[start:start + size] if size else np.zeros(0, np.uint8)
        d = (raw.reshape(len(safe), 13).astype(np.int32) - ord("0"))
        self.digits = d
        self.sex_digit = d[:, 6]
        self.century = _CENTURY[self.sex_digit]
        self.year = pa.array(self.century + d[:, 0] * 10 + d[:, 1])
        self.month = pa.array(d[:, 2] * 10 + d[:, 3])
        self.day = pa.array(d[:, 4] * 10 + d[:, 5])
        self.born = date_number(self.year, self.month, self.day)
        self.valid_birth = pc.and_(self.shaped, is_valid_date(self.year, self.month, self.day))

    def check_digit_holds(self) -> pa.Array:
        rest = (self.digits[:, :12] @ _WEIGHTS) % 11
        foreigner = (self.sex_digit >= 5) & (self.sex_digit <= 8)
        expected = (np.where(foreigner, 13, 11) - rest) % 10
        return pa.array(expected == self.digits[:, 12])

    def valid(self, strict_check_digit: bool, today: dt.date | None) -> pa.Array:
        """Layout, a real birth date not in the future and (if strict) the check digit."""
        valid = pc.and_(self.valid_birth, pc.less_equal(self.born, today_number(today)))
        if strict_check_digit:
            checked = pc.less(self.born, RANDOM_SINCE)
            valid = pc.and_(valid, pc.or_(pc.invert(checked), self.check_digit_holds()))
        return pc.fill_null(valid, False)

    def birth_date(self, valid: pa.Array) -> pa.Array:
        return iso_date(self.year, self.month, self.day, valid)

    def sex(self, valid: pa.Array) -> pa.Array:
        sex = pc.if_else(pa.array(self.sex_digit % 2 == 1), "M", "F")
        return pc.if_else(valid, sex, pa.scalar(None, pa.string()))

    def century_where(self, valid: pa.Array) -> pa.Array:
        return pc.if_else(valid, pa.array(self.century), pa.scalar(None, pa.int32()))


def rrn_details(
    values: pa.Array | pa.ChunkedArray,
    *,
    strict_check_digit: bool = True,
    today: dt.date | None = None,
) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """(normalised RRN, century, ISO birth date, sex) in one pass over the digits.

    Each is what :func:`normalise_rrn` and then :func:`rrn_century`, :func:`rrn_birth_date`
    and :func:`rrn_sex` of its result would give, without parsing the numbers four times.
    """
    parts = _Parts(values)
    valid = parts.valid(strict_check_digit, today)
    normalised = pc.if_else(valid, parts.text, pa.scalar(None, pa.string()))
    return normalised, parts.century_where(valid), parts.birth_date(valid), parts.sex(valid)


def normalise_rrn(
    values: pa.Array | pa.ChunkedArray,
    *,
    strict_check_digit: bool = True,
    today: dt.date | None = None,
) -> pa.Array:
    """Thirteen digits without hyphen; null where missing or invalid.

    Invalid: not 13 digits, a birth date that does not exist or lies in the future, or (with
    ``strict_check_digit``) a wrong check digit on a number whose holder was born before
    2020-10-01.

    Why birth date stands in for issue date: the number does not say when it was issued, but
    anyone born on or after 2020-10-01 certainly holds a new-style number, so their last digit
    is never checked. Someone born earlier may still hold a new-style number (a foreigner first
    registered after 2020-10, or a Korean whose number was changed); under the strict default
    such a number is rejected as invalid and counted, which is the safer error for exact linkage
    (a typo in an old number is far more common than a re-issue). Holders whose data include
    foreigners registered after 2020-10 pass ``strict_check_digit=False``: then only layout,
    birth date and sex digit are checked.

    >>> normalise_rrn(pa.array(["560108-1234564", "５６０１０８－１２３４５６４", "560108 1234564"])
    ...               ).to_pylist()
    ['5601081234564', '5601081234564', '5601081234564']
    >>> normalise_rrn(pa.array(["5601081234567", "561308-1234564", "56010812345"])).to_pylist()
    [None, None, None]
    >>> normalise_rrn(pa.array(["5601081234567"]), strict_check_digit=False).to_pylist()
    ['5601081234567']
    >>> normalise_rrn(pa.array(["2011013123457"])).to_pylist()  # born 2020-11: no check digit
    ['2011013123457']
    """
    parts = _Parts(values)
    valid = parts.valid(strict_check_digit, today)
    return pc.if_else(valid, parts.text, pa.scalar(None, pa.string()))


def rrn_birth_date(rrns: pa.Array | pa.ChunkedArray) -> pa.Array:
    """ISO birth date from each RRN; null where the RRN is missing or malformed.

    >>> rrn_birth_date(pa.array(["5601081234564", "0102034234562", "9912319000000", None])
    ...               ).to_pylist()
    ['1956-01-08', '2001-02-03', '1899-12-31', None]
    """
    parts = _Parts(rrns)
    return parts.birth_date(parts.valid_birth)


def rrn_sex(rrns: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Sex from each RRN: "M" for an odd seventh digit (9 too), "F" for an even one (0 too).

    >>> rrn_sex(pa.array(["5601081234564", "0102034234562", "9912310000000", "x"])).to_pylist()
    ['M', 'F', 'F', None]
    """
    parts = _Parts(rrns)
    return parts.sex(parts.valid_birth)


def rrn_century(rrns: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The birth century (1800, 1900, 2000) each RRN encodes; null where malformed.

    >>> rrn_century(pa.array(["5601081234564", "0102034234562", None])).to_pylist()
    [1900, 2000, None]
    """
    parts = _Parts(rrns)
    return parts.century_where(parts.valid_birth)
