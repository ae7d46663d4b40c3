"""The shape of a value: its form without its content, for error messages.

An error about a column must show what was found without showing a value (an identifier
never reaches a terminal or a log): digits become ``9``, Latin letters ``A``/``a``, Hangul
syllables ``가``, other letters ``X``; punctuation and spaces stay, since they carry the form.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from linkage.normalise.text import as_text, collapse_whitespace, nfkc

#: Longer shapes are cut here: the length of a long value says little about its form.
MAX_SHAPE = 24


def value_shapes(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value's shape.

    >>> value_shapes(pa.array(["110-034", "SW1A 1aa", None])).to_pylist()
    ['999-999', 'AA9A 9aa', None]
    """
    text = collapse_whitespace(nfkc(as_text(values)))
    for pattern, mark in ((r"\p{Nd}", "9"), (r"[A-Z]", "A"), (r"[a-z]", "a"),
                          (r"[\x{AC00}-\x{D7A3}]", "가"), (r"[^\P{L}가Aa]", "X")):
        text = pc.replace_substring_regex(text, pattern, mark)
    long = pc.fill_null(pc.greater(pc.utf8_length(text), MAX_SHAPE), False)
    return pc.if_else(long, pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, MAX_SHAPE), "…", ""), text)
