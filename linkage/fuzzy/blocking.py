"""Blocking: keyed match keys computed at the holder, joined at the key manager.

A blocking key is ``HMAC(project_key, rule tag, parts)`` like an exact linkage key, so the
key manager learns only which records share a key, never the value. Pairs that share a key
under any rule are candidates; a block so large that it would dominate the work (a very
common name in one birth year) is skipped and counted instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkage.fuzzy.grams import as_jamo
from linkage.keys.linkage_key import linkage_key_column

#: Characters of a ``~tail`` part: a Korean RRN's last seven digits (sex digit and serial),
#: which survive a typo in its birth-date digits.
TAIL = 7


def rule_name(rule: Sequence[str]) -> str:
    return "+".join(rule)


def column_name(rule: Sequence[str]) -> str:
    """The keys-file column of a rule.

    >>> column_name(("dob", "name~initial"))
    'block:dob+name~initial'
    """
    return "block:" + rule_name(rule)


def part_values(values: pa.Table, part: str) -> pa.Array:
    """One blocking part over a table of normalised identifiers (one column per kind)."""
    kind, _, derived = part.partition("~")
    column = values.column(kind)
    if derived == "year":
        return pc.utf8_slice_codeunits(column, 0, 4)
    if derived == "initial":
        return pc.utf8_slice_codeunits(as_jamo(column), 0, 1)
    if derived == "first":
        return pc.utf8_slice_codeunits(column, 0, 1)
    if derived == "tail":
        return pc.utf8_slice_codeunits(column, -TAIL, None)
    if derived:
        raise ValueError(f"unknown blocking part '{part}'")
    return column


def blocking_keys(values: pa.Table, project_key: bytes,
                  rules: Sequence[tuple[str, ...]]) -> pa.Table:
    """One 32-byte key column per rule, null where any part is missing: the HMAC of the
    rule's tag and its parts as an exact linkage key's message is built
    (:func:`linkage.keys.linkage_key.linkage_key`), hashed a whole column at a time."""
    parts = {p: part_values(values, p) for p in sorted({p for rule in rules for p in rule})}
    columns = {}
    for rule in rules:
        tag = b"pseudolink/v1/block/" + rule_name(rule).encode("utf-8")
        columns[column_name(rule)] = linkage_key_column(project_key, tag,
                                                        [parts[p] for p in rule])
    return pa.table(columns)


@dataclass
class Candidates:
    """Candidate pairs as row indices into the two holders' tables."""

    left: np.ndarray
    right: np.ndarray
    pairs_per_rule: dict[str, int] = field(default_factory=dict)
    skipped_blocks: dict[str, int] = field(default_factory=dict)
    skipped_pairs: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.left)
