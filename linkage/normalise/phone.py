"""Telephone numbers, to the digits a caller in Korea would dial (``01012345678``).

Legacy mobile prefixes 011/016/017/018/019 stay as they are: the numbers that still carry them
are distinct lines, not old spellings of a 010 number. Numbers outside Korea are kept in E.164
form (``+15551234567``) rather than rejected, since they still identify a person.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import WHITESPACE, as_text, is_numeric_type, nfkc, split_paths

SEPARATORS = WHITESPACE + r"|\p{Pd}|[.()/]"
# +82, 0082 or a bare 82, then an optional trunk 0 written as "(0)".
COUNTRY_82 = r"^(?:\+|00)?820?([1-9])"
ABROAD = r"^(?:\+|00)([1-9]\d{7,14})$"
# Domestic numbering plan, one rule per kind of line.
KOREAN_NUMBERS = {
    "mobile 010": r"010\d{8}",
    "mobile 011/016-019": r"01[16789]\d{7,8}",
    "Seoul": r"02\d{7,8}",
    "other areas": r"0(?:3[1-3]|4[1-4]|5[1-5]|6[1-4])\d{7,8}",
    "internet telephony": r"070\d{8}",
    "personal numbers": r"050\d{8,9}",
    "toll-free": r"080\d{7,8}",
    "nationwide representative": r"1[5689]\d{6}",
}
VALID = "^(?:" + "|".join(KOREAN_NUMBERS.values()) + r"|\+[1-9]\d{7,14})$"


def normalise_phone(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Digits only, Korean numbers with their leading 0; null where not a possible number.

    >>> normalise_phone(pa.array(["+82 10-1234-5678", "010-1234-5678", "010 1234 5678",
    ...                           "(010)1234-5678", "82-10-1234-5678", "+82 (0)10 1234 5678"])
    ...                ).to_pylist()
    ['01012345678', '01012345678', '01012345678', '01012345678', '01012345678', '01012345678']
    >>> normalise_phone(pa.array(["011-234-5678", "02-123-4567", "031-123-4567", "1588-1234",
    ...                           "+1 555 123 4567"])).to_pylist()
    ['0112345678', '021234567', '0311234567', '15881234', '+15551234567']
    >>> normalise_phone(pa.array(["010-1234-567", "1234", "010-1234-5678 ext 2", ""])
    ...                ).to_pylist()
    [None, None, None, None]
    """
    text = as_text(values)
    if is_numeric_type(values):
        # A number column dropped the trunk 0 of every domestic number.
        bare = pc.match_substring_regex(text, r"^(?:82|1[5689]\d{6}$)")
        with_zero = pc.binary_join_element_wise("0", text, "")
        text = pc.if_else(pc.fill_null(bare, True), text, with_zero)
    # A mobile number written 010-1234-5678 (or without hyphens) is valid as it stands.
    return split_paths(text, r"^010-?\d{4}-?\d{4}$", lambda t: pc.replace_substring(t, "-", ""),
                       _clean)


def _clean(text: pa.Array, _: pa.Array | None = None) -> pa.Array:
    text = pc.replace_substring_regex(nfkc(text), SEPARATORS, "")
    text = pc.replace_substring_regex(text, COUNTRY_82, r"0\1")
    text = pc.replace_substring_regex(text, ABROAD, r"+\1")
    valid = pc.fill_null(pc.match_substring_regex(text, VALID), False)
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))
