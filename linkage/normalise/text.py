"""Shared text cleaning, and the normalisers for free text and connecting information (CI).

Every normaliser starts here: whatever Arrow type a column arrived as (a CSV read by pandas gives
integers, floats with NaN, dictionaries), it becomes a plain UTF-8 string array, and the same
definition of whitespace is used everywhere so that idempotence holds across kinds.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

# RE2's \s is ASCII-only; \p{Z} adds the Unicode spaces NFKC leaves alone, and the C0 separators
# and NEL are whitespace to utf8_trim_whitespace, so they must be whitespace here too.
WHITESPACE = r"[\s\p{Z}\x{0B}\x{1C}-\x{1F}\x{85}]"
# Invisible characters copied along with names from web forms and spreadsheets.
INVISIBLE = r"[\x{00AD}\x{200B}-\x{200D}\x{2060}\x{FEFF}]"


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One string array, whatever the input type; integral floats lose their '.0'."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_floating(kind):
        # pandas turns an integer column with gaps into float64: 1012345678.0 must read as digits.
        integral = pc.fill_null(pc.equal(values, pc.floor(values)), False)
        as_int = pc.cast(pc.if_else(integral, values, 0), pa.int64(), safe=False)
        return pc.if_else(integral, pc.cast(as_int, pa.string()), pc.cast(values, pa.string()))
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pc.cast(values, pa.string())
    return pc.cast(values, pa.string())


def is_numeric_type(values: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a column was typed as a number, so that its leading zeros were lost upstream."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def nfkc(values: pa.Array) -> pa.Array:
    """NFKC (fullwidth to ASCII, halfwidth and decomposed Hangul composed), invisibles removed."""
    return pc.replace_substring_regex(pc.utf8_normalize(values, "NFKC"), INVISIBLE, "")


def collapse_whitespace(values: pa.Array) -> pa.Array:
    """Runs of any whitespace become one space; leading and trailing spaces go."""
    single = pc.replace_substring_regex(values, WHITESPACE + "+", " ")
    return pc.replace_substring_regex(single, "^ | $", "")


def empty_to_null(values: pa.Array) -> pa.Array:
    """The empty string means missing."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def is_blank(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True where a value is null, empty or whitespace only (never null itself)."""
    text = collapse_whitespace(nfkc(as_text(values)))
    return pc.fill_null(pc.equal(text, ""), True)


def normalise_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Any other string: NFKC, whitespace collapsed and stripped; empty becomes null.

    >>> normalise_text(pa.array(["  Ａｐｔ　１０１ ", "a\\t\\tb", "   ", None])).to_pylist()
    ['Apt 101', 'a b', None, None]
    """
    return empty_to_null(collapse_whitespace(nfkc(as_text(values))))


def normalise_ci(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Connecting information (88-character base64): whitespace removed, nothing else.

    CI is case-sensitive base64, so no Unicode or case folding; a CI wrapped over lines in an
    export is joined again.

    >>> normalise_ci(pa.array([" abc+/De \\n== ", ""])).to_pylist()
    ['abc+/De==', None]
    """
    return empty_to_null(pc.replace_substring_regex(as_text(values), WHITESPACE + "+", ""))


def split_paths(
    text: pa.Array, fast_pattern: str, fast: Callable[[pa.Array], pa.Array],
    slow: Callable[[pa.Array, pa.Array], pa.Array],
) -> pa.Array:
    """``fast(text)`` where a value matches ``fast_pattern``, ``slow`` on the other rows only.

    Most values in a real file are already written the usual way; one anchored regex match
    picks those out for a cheap route, and only the rest pay for the full cleaning. ``fast``
    must give, on matching values, exactly what ``slow`` would, and null for null. ``slow``
    receives the rows it works on and the mask that chose them (to select row-aligned side
    inputs).
    """
    is_fast = pc.fill_null(pc.match_substring_regex(text, fast_pattern), False)
    fast_rows = pc.sum(is_fast).as_py() or 0
    if fast_rows == 0:
        return slow(text, pc.invert(is_fast))
    if fast_rows == len(text):
        return fast(text)
    # ``fast`` sees nulls in place of the other rows (and must pass nulls through).
    quick = fast(pc.if_else(is_fast, text, pa.scalar(None, text.type)))
    is_slow = pc.invert(is_fast)
    return pc.replace_with_mask(quick, is_slow, slow(pc.filter(text, is_slow), is_slow))


def normalise_id(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An opaque identifier (a foreign id, a membership number): no format rule at all.

    NFKC (full-width forms), whitespace collapsed and trimmed, lower case; anything not blank
    is valid, so a column of this kind never loses a value to a rule it does not follow.

    >>> normalise_id(pa.array([" AB-123x ", "ＡＢ－１２３Ｘ", "  ", None])).to_pylist()
    ['ab-123x', 'ab-123x', None, None]
    """
    return empty_to_null(pc.utf8_lower(collapse_whitespace(nfkc(as_text(values)))))
