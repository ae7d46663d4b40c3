"""Addresses and postcodes.

An address is compared as written, after its first word — the province-level area (시도) — is
brought to the official full name: "서울시 종로구" and "서울특별시 종로구" are one place.
강원도 became 강원특별자치도 in June 2023 and 전라북도 became 전북특별자치도 in January 2024;
records made before and after must agree, so the old names map to the new ones.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import (
    WHITESPACE,
    as_text,
    collapse_whitespace,
    empty_to_null,
    is_numeric_type,
    nfkc,
)

# Official name -> other spellings seen at the start of an address. Each is replaced only as the
# whole first word, so "제주시 연동" (a city inside 제주특별자치도) and
# "광주시 오포읍" (경기도 광주시) keep their meaning: "광주시" alone is ambiguous, left as written.
SIDO: dict[str, tuple[str, ...]] = {
    "서울특별시": ("서울시", "서울"),
    "부산광역시": ("부산시", "부산"),
    "대구광역시": ("대구시", "대구"),
    "인천광역시": ("인천시", "인천"),
    "광주광역시": ("광주",),
    "대전광역시": ("대전시", "대전"),
    "울산광역시": ("울산시", "울산"),
    "세종특별자치시": ("세종특별시", "세종시", "세종"),
    "경기도": ("경기",),
    "강원특별자치도": ("강원도", "강원"),
    "충청북도": ("충북",),
    "충청남도": ("충남",),
    "전북특별자치도": ("전라북도", "전북"),
    "전라남도": ("전남",),
    "경상북도": ("경북",),
    "경상남도": ("경남",),
    "제주특별자치도": ("제주도", "제주"),
}
_VARIANTS = pa.array([variant for variants in SIDO.values() for variant in variants])
_OFFICIAL = pa.array([official for official, variants in SIDO.items() for _ in variants])
# Trailing separators left by concatenated fields; closing brackets stay ("... 209 (세종로)").
TRAILING = r"[\s.,;:·/\-]+$"


def normalise_address(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NFKC, whitespace collapsed, the 시도 spelled officially, trailing punctuation dropped.

    >>> raw = ["서울시  종로구 세종대로 209.", "서울 종로구 세종대로 209", "강원도 춘천시 중앙로 1",
    ...        "전북 전주시", "제주시 연동 1,", "경기 광주시 오포읍"]
    >>> for address in normalise_address(pa.array(raw)).to_pylist():
    ...     print(address)
    서울특별시 종로구 세종대로 209
    서울특별시 종로구 세종대로 209
    강원특별자치도 춘천시 중앙로 1
    전북특별자치도 전주시
    제주시 연동 1
    경기도 광주시 오포읍
    """
    text = collapse_whitespace(nfkc(as_text(values)))
    text = pc.replace_substring_regex(text, TRAILING, "")
    first_word = pc.replace_substring_regex(text, " .*$", "")
    rest = pc.replace_substring_regex(text, "^[^ ]*", "")
    official = pc.take(_OFFICIAL, pc.index_in(first_word, value_set=_VARIANTS))
    text = pc.coalesce(pc.binary_join_element_wise(official, rest, ""), text)
    return empty_to_null(text)


def normalise_postcode(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Five-digit postcodes (since 2015) and six-digit old ones, as digits; anything else null.

    The old six-digit codes are a different system, not a different spelling: converting them
    would need the full address, so they are kept as six digits and simply will not match a new
    code.

    >>> normalise_postcode(pa.array(["03154", " 03154 ", "110-034", "110034", "1234", "12-345"])
    ...                   ).to_pylist()
    ['03154', '03154', '110034', '110034', None, None]
    """
    text = as_text(values)
    if is_numeric_type(values):
        # A number column drops the leading 0 of Seoul's new codes (01000-08xxx).
        short = pc.fill_null(pc.less(pc.utf8_length(text), 5), False)
        text = pc.if_else(short, pc.utf8_lpad(text, width=5, padding="0"), text)
    text = pc.replace_substring_regex(nfkc(text), WHITESPACE, "")
    text = pc.replace_substring_regex(text, r"^(\d{3})\p{Pd}(\d{3})$", r"\1\2")
    valid = pc.fill_null(pc.match_substring_regex(text, r"^(?:\d{5}|\d{6})$"), False)
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))


def normalise_postcode_any(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A postcode of any country: NFKC, upper case, spaces and dashes dropped.

    Valid is 3 to 10 letters and digits with at least one digit, which covers Australia
    (2600), the UK (SW1A 1AA), Canada (K1A 0B1), the US (12345-6789), Japan (100-0001) and
    Korea. Unlike ``postcode`` a number column is not padded (a lost leading zero cannot be
    told from a code of another length abroad); keep such columns as text.

    >>> normalise_postcode_any(pa.array(["SW1A 1AA", "sw1a-1aa", " 0800", "AB", "ABCD"])
    ...                       ).to_pylist()
    ['SW1A1AA', 'SW1A1AA', '0800', None, None]
    """
    text = pc.utf8_upper(nfkc(as_text(values)))
    text = pc.replace_substring_regex(text, WHITESPACE + r"|\p{Pd}", "")
    valid = pc.fill_null(pc.and_(pc.match_substring_regex(text, r"^[A-Z0-9]{3,10}$"),
                                 pc.match_substring_regex(text, r"\d")), False)
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))
