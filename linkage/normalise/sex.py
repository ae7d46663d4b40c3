"""Sex, to "M" or "F", from the spellings Korean records use."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import as_text, collapse_whitespace, nfkc

# Lower-cased spelling -> code. "1"/"2" are the common survey coding (and the RRN digits for the
# 1900s); 3/4 are not accepted because outside an RRN they usually mean something else.
SPELLINGS: dict[str, str] = {
    "m": "M", "male": "M", "man": "M", "남": "M", "남자": "M", "남성": "M", "1": "M",
    "f": "F", "female": "F", "woman": "F", "여": "F", "여자": "F", "여성": "F", "2": "F",
}  # fmt: skip
_KEYS = pa.array(list(SPELLINGS))
_CODES = pa.array(list(SPELLINGS.values()))


def normalise_sex(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Sex as "M" or "F"; null where missing or not a known spelling.

    >>> normalise_sex(pa.array(["M", "f", "남", "여자", "1", "2", "Female", " MALE ", "x", None])
    ...              ).to_pylist()
    ['M', 'F', 'M', 'F', 'M', 'F', 'F', 'M', None, None]
    """
    text = pc.utf8_lower(collapse_whitespace(nfkc(as_text(values))))
    return pc.take(_CODES, pc.index_in(text, value_set=_KEYS))
