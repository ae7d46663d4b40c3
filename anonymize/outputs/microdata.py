"""Is this table really a result, or rows of the extract under a table's name?

A result table has one row per cell: its labels (the row labels and every text column) form
a grid of categories with each combination once. Microdata has one row per person: labels
repeat, combinations are scattered thinly over a huge grid, rows are numbered rather than
labelled, or a column identifies people. Any of these holds the output, with the reason.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from anonymize.outputs.verdict import Verdict

#: Column names (after a holder prefix ``holder__``) that identify people or records.
IDENTIFIER_NAMES = frozenset({
    "link_id", "record_id", "person_id", "serial", "rrn", "resident_number", "name",
    "given_name", "surname", "owner_name", "owner_rrn", "phone", "mobile", "email",
    "address", "postcode", "ci", "dob", "birth_date", "주민등록번호", "성명", "이름",
    "전화번호", "주소"})
#: Values that look like identifiers: RRNs, mobile numbers, e-mail, long hex pseudonyms.
IDENTIFIER_VALUES = re.compile(
    r"^(\d{6}-?[1-8]\d{6}|01[016789]-?\d{3,4}-?\d{4}|[^@\s]+@[^@\s]+\.\w+|[0-9a-f]{16,})$",
    re.IGNORECASE)
#: From this many rows on, a table that fills under three quarters of its label grid (along
#: its best column) is a list of records: rows of people fill at most half.
SPARSE_MIN_ROWS = 50
SPARSE_SHARE = 0.75


def _stem(column: object) -> str:
    return str(column).rsplit("__", 1)[-1].strip().lower()


def _labels(table: pd.DataFrame) -> pd.DataFrame:
    """The row labels and every non-numeric column: what names a cell."""
    frame = table.reset_index()
    return frame[[c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
                  or c == frame.columns[0]]]


def _identifier_column(frame: pd.DataFrame) -> str | None:
    for column in frame.columns:
        if _stem(column) in IDENTIFIER_NAMES:
            return f"column {column!r} is named like an identifier"
        values = frame[column].dropna().astype(str).head(200)
        if len(values) >= 3 and values.str.match(IDENTIFIER_VALUES).mean() > 0.5:
            return f"column {column!r} holds identifier-like values"
    return None


def _row_numbers(table: pd.DataFrame) -> bool:
    """Pandas' default index written out: the rows are numbered 0..n-1 (or 1..n)."""
    first = table.index
    if len(first) < SPARSE_MIN_ROWS or not pd.api.types.is_integer_dtype(first):
        return False
    values = np.asarray(first, dtype=np.int64)
    return bool((values == np.arange(len(values)) + values[0]).all() and values[0] in (0, 1))


def grid_coverage(labels: pd.DataFrame) -> float:
    """How completely the rows fill the grid their labels span, at best over the columns.

    For each label column c: rows / (distinct combinations of the others x levels of c). A
    table by (시도, 시군구, sex) fills 1.0 along sex, although 시군구 names repeat across
    시도; rows of people with labels unique per row fill at most 1/levels of any column.

    >>> grid_coverage(pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["F", "M", "F", "M"]}))
    1.0
    """
    best = 0.0
    for column in labels.columns:
        others = [c for c in labels.columns if c != column]
        spanned = labels[others].drop_duplicates().shape[0] * labels[column].nunique()
        best = max(best, len(labels) / max(spanned, 1))
    return best


def check_microdata(table: pd.DataFrame) -> Verdict:
    """Hold a table that looks like one row per person rather than one row per cell.

    >>> t = pd.DataFrame({"sex": ["F", "F", "M"], "income": [3100, 2900, 4000]})
    >>> check_microdata(t.set_index("sex")).reason.split(":")[0]
    "rows 1 and 2 have the same labels ('F')"
    """
    frame = table.reset_index()
    found = _identifier_column(frame)
    if found:
        return Verdict.held("microdata", f"{found}; identifiers never leave the room")
    if _row_numbers(table):
        return Verdict.held("microdata", "the rows are numbered (0, 1, 2, ...), not labelled "
                                         "by categories: this looks like one row per "
                                         "person; write the table with its labels")
    labels = _labels(table)
    duplicated = labels.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        key = tuple(labels.iloc[first])
        twin = next(i for i in np.flatnonzero(duplicated)[1:]
                    if tuple(labels.iloc[int(i)]) == key)
        shown = ", ".join(repr(v) for v in key)
        return Verdict.held("microdata", f"rows {first + 1} and {int(twin) + 1} have the same "
                                         f"labels ({shown}): a result has one row per cell, "
                                         "this looks like one row per person")
    if labels.shape[1] >= 2 and len(labels) >= SPARSE_MIN_ROWS:
        coverage = grid_coverage(labels)
        if coverage < SPARSE_SHARE:
            return Verdict.held("microdata", f"{len(labels)} rows fill at most {coverage:.0%} "
                                             "of the grid their labels "
                                             f"({', '.join(map(str, labels.columns))}) span: "
                                             "a list of records, not a table of cells")
    return Verdict.passed("microdata", "one row per cell, no identifier-like column")
