"""How each holder writes identifiers: the social-security service one way, the building
register always another, as two real systems do. Differences of format are not errors: the
linkage normalisers must make them agree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from linkage.synthdata.codepoints import digits, literal, to_strings
from linkage.synthdata.names import with_space

# Building register phone layouts: "010 1234 5678", "+82 10-1234-5678", "01012345678".
PHONE_LAYOUT_SHARES = (0.5, 0.3, 0.2)
NAME_SPACE_SHARE = 0.3


def _null_where(values: pa.Array, missing: np.ndarray) -> pa.Array:
    if not missing.any():
        return values
    return pa.compute.if_else(pa.array(missing), pa.scalar(None, pa.string()), values)


def record_ids(letter: str, numbers: np.ndarray) -> pa.Array:
    """ "S000000001": a letter per holder and nine digits."""
    return to_strings(np.hstack([literal(letter, len(numbers)), digits(numbers, 9)]))


def iso_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> pa.Array:
    n = len(year)
    dash = literal("-", n)
    return to_strings(np.hstack([digits(year, 4), dash, digits(month, 2), dash, digits(day, 2)]))


def postcodes(values: np.ndarray) -> pa.Array:
    return to_strings(digits(values, 5))


def rrn_hyphenated(rrn: np.ndarray, missing: np.ndarray) -> pa.Array:
    """ "YYMMDD-GNNNNNN", the way it is printed on the registration card."""
    codes = (rrn + ord("0")).astype(np.uint32)
    text = to_strings(np.hstack([codes[:, :6], literal("-", len(rrn)), codes[:, 6:]]))
    return _null_where(text, missing)


def rrn_plain(rrn: np.ndarray, missing: np.ndarray) -> pa.Array:
    return _null_where(to_strings((rrn + ord("0")).astype(np.uint32)), missing)


def _phone_parts(prefix: np.ndarray, subscriber: np.ndarray) -> tuple[np.ndarray, ...]:
    p = digits(prefix, 3)
    s = digits(subscriber, 8)
    return p, s[:, :4], s[:, 4:]


def phone_hyphenated(prefix: np.ndarray, subscriber: np.ndarray, missing: np.ndarray
                     ) -> pa.Array:
    p, middle, last = _phone_parts(prefix, subscriber)
    dash = literal("-", len(p))
    return _null_where(to_strings(np.hstack([p, dash, middle, dash, last])), missing)


def phone_varied(rng: np.random.Generator, prefix: np.ndarray, subscriber: np.ndarray,
                 missing: np.ndarray) -> pa.Array:
    """Each number in one of the register's layouts, never the hyphenated one."""
    n = len(prefix)
    p, middle, last = _phone_parts(prefix, subscriber)
    space, dash, none = literal(" ", n), literal("-", n), np.zeros((n, 1), dtype=np.uint32)
    spaced = np.hstack([p, space, middle, space, last, none, none, none])
    international = np.hstack([literal("+82 ", n), p[:, 1:], dash, middle, dash, last])
    bare = np.hstack([p, middle, last, none, none, none, none, none])
    layout = rng.choice(3, size=n, p=PHONE_LAYOUT_SHARES)[:, None]
    codes = np.where(layout == 0, spaced, np.where(layout == 1, international, bare))
    return _null_where(to_strings(codes), missing)


def names_plain(names: np.ndarray) -> pa.Array:
    return to_strings(names)


def names_varied(rng: np.random.Generator, names: np.ndarray, surname_len: np.ndarray
                 ) -> pa.Array:
    """Some names written "김 철수", as register clerks often do."""
    spaced = rng.random(len(names)) < NAME_SPACE_SHARE
    return to_strings(with_space(names, surname_len, spaced))
