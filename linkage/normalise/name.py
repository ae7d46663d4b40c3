"""Personal names (full name, given name, surname), Hangul or Latin.

Hangul names are written with and without spaces ("김 철수", "김철수") and must agree; Latin names
keep their single spaces, since "JOHN SMITH" and "JOHNSMITH" are not written interchangeably.
Hangul syllables stay whole (NFC-composed): decomposing them into jamo would make every key and
Bloom-filter bigram depend on an encoding detail rather than on the name.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import (
    WHITESPACE,
    as_text,
    collapse_whitespace,
    empty_to_null,
    nfkc,
    split_paths,
)

HANGUL = r"[\x{AC00}-\x{D7A3}]"
# Hyphens separate parts of a name ("Gil-dong", "Mary-Jane"), so they become spaces; every other
# mark (dots of initials, apostrophes, middle dots in transcribed foreign names) is dropped.
DASHES = r"\p{Pd}"
MARKS = r"[\p{P}\p{S}]"
# After cleaning, a name holds letters, combining marks and single spaces, and at least a letter;
# digits or control characters mean the field holds something other than a name.
VALID = r"^[\p{L}\p{M} ]*\p{L}[\p{L}\p{M} ]*$"
# Names that are their own normal form (Hangul syllables only; upper-case Latin words with single
# spaces): most of a file, so they skip the dozen passes the others need.
ALREADY_NORMAL = r"^(?:[\x{AC00}-\x{D7A3}]+|[A-Z]+(?: [A-Z]+)*)$"


def _join_hangul(values: pa.Array) -> pa.Array:
    # RE2 has no lookahead, so one pass leaves every other gap in "가 나 다"; the gaps it leaves
    # are never next to each other, so a second pass closes them all.
    pair = "(" + HANGUL + ") (" + HANGUL + ")"
    for _ in range(2):
        values = pc.replace_substring_regex(values, pair, r"\1\2")
    return values


def normalise_name(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Names: NFKC, marks dropped, spaces between Hangul removed, Latin upper-cased.

    >>> normalise_name(pa.array(["김 철수", " 김철수 ", "John  Smith", "Ｊｏｈｎ　Ｓｍｉｔｈ"])
    ...               ).to_pylist()
    ['김철수', '김철수', 'JOHN SMITH', 'JOHN SMITH']
    >>> normalise_name(pa.array(["J. R. R. Tolkien", "Hong Gil-dong", "마이클·잭슨", "홍 길 동"])
    ...               ).to_pylist()
    ['J R R TOLKIEN', 'HONG GIL DONG', '마이클잭슨', '홍길동']
    >>> normalise_name(pa.array(["", "  ", "...", "010-1234-5678", None])).to_pylist()
    [None, None, None, None, None]
    """
    return split_paths(as_text(values), ALREADY_NORMAL, lambda text: text, _clean)


def _clean(text: pa.Array, _: pa.Array | None = None) -> pa.Array:
    text = nfkc(text)
    text = pc.replace_substring_regex(text, DASHES, " ")
    text = pc.replace_substring_regex(text, MARKS, "")
    text = collapse_whitespace(text)
    text = _join_hangul(text)
    # Upper-casing can produce characters NFKC would change (and NFKC can produce lower case),
    # so the pair runs twice to reach a fixed point; normalising a normalised name changes nothing.
    for _ in range(2):
        text = pc.utf8_normalize(pc.utf8_upper(text), "NFKC")
    text = collapse_whitespace(pc.replace_substring_regex(text, WHITESPACE, " "))
    valid = pc.fill_null(pc.match_substring_regex(text, VALID), False)
    return empty_to_null(pc.if_else(valid, text, pa.scalar(None, pa.string())))
