"""What an output file is, read from its bytes: the kind that picks the checks.

A researcher may say what a file is, but the label only has to agree with the content: a
CSV called ``notes.txt`` and declared free text would otherwise skip every table check and
reach an officer as prose. Images are known by their magic numbers, JSON by parsing, tables
by a delimiter that splits every line into the same number of fields.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.outputs.verdict import Verdict

#: What an output can be; the kind picks the checks.
KINDS = ("frequency_table", "magnitude_table", "model", "figure", "text")

IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"%PDF-", b"GIF87a", b"GIF89a")
PARQUET_MAGIC = b"PAR1"
DELIMITERS = (",", "\t", ";")
#: Lines (header included) from which delimited text counts as a table.
MIN_TABLE_LINES = 3

#: Words of a column name that say its values are quantities, not counts of units (whole
#: words: ``sum`` names a sum, not ``consumer``); Korean ones match inside a name (지원금액).
QUANTITY_WORDS = frozenset({
    "income", "amount", "salary", "wage", "wages", "earnings", "pay", "price", "cost", "spend",
    "spending", "revenue", "asset", "assets", "debt", "sum", "mean", "avg", "average",
    "median", "weight", "height", "area"})
QUANTITY_KOREAN = ("금액", "소득", "급여", "임금", "평균", "자산", "부채", "지출", "면적")


def names_quantity(column: object) -> bool:
    """Whether a column's name says it holds a quantity.

    >>> [names_quantity(c) for c in ("ssis__benefit_amount", "consumers", "지원금액")]
    [True, False, True]
    """
    name = str(column).lower()
    return (any(word in QUANTITY_WORDS for word in re.split(r"[^0-9a-z]+", name))
            or any(word in name for word in QUANTITY_KOREAN))


def read_text(path: Path, limit: int = 5_000_000) -> str | None:
    """The file as text (UTF-8, or CP949 as Korean public data often is), or None."""
    raw = Path(path).read_bytes()[:limit]
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    return None


def _delimited_lines(text: str) -> int:
    """How many lines of ``text`` a delimiter splits into the same fields (0 if none)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < MIN_TABLE_LINES:
        return 0
    best = 0
    for delimiter in DELIMITERS:
        widths = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)),
                                                 delimiter=delimiter)]
        common = max(set(widths), key=widths.count)
        agree = widths.count(common)
        if common >= 2 and agree >= MIN_TABLE_LINES and agree >= 0.9 * len(widths):
            best = max(best, agree)
    markdown = [line for line in lines if line.strip().startswith("|")
                and line.strip().endswith("|") and line.count("|") >= 3]
    return max(best, len(markdown) if len(markdown) >= MIN_TABLE_LINES else 0)


def table_kind(table: pd.DataFrame) -> str:
    """``magnitude_table`` when the cells are quantities, ``frequency_table`` when counts.

    Counts are non-negative whole numbers under columns that do not name a quantity;
    a table with contributor counts is a magnitude table by declaration.

    >>> table_kind(pd.DataFrame({"owner": [25, 40]}, index=["Jongno", "Jung"]))
    'frequency_table'
    >>> table_kind(pd.DataFrame({"income": [35200, 41800]}, index=["Jongno", "Jung"]))
    'magnitude_table'
    """
    from anonymize.outputs.tables import _is_margin

    if "contributors" in table.columns:
        return "magnitude_table"
    values = [c for c in table.columns
              if not _is_margin(c) and pd.api.types.is_numeric_dtype(table[c])]
    if any(names_quantity(c) for c in values):
        return "magnitude_table"
    for column in values:
        numbers = table[column].dropna().to_numpy(dtype=float)
        if (numbers < 0).any() or (numbers != numbers.round()).any():
            return "magnitude_table"
    return "frequency_table"


def infer_kind(path: Path) -> str:
    """The kind of output ``path`` holds, whatever its name says.

    A table's kind (frequency or magnitude) comes from :func:`table_kind`.
    """
    from anonymize.outputs.files import read_table

    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(IMAGE_MAGIC):
        return "figure"
    if head.startswith(PARQUET_MAGIC):
        return table_kind(read_table(path))
    text = read_text(path)
    if text is None:
        return "figure" if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".pdf") else "text"
    stripped = text.lstrip()
    if stripped.startswith("<svg") or (stripped.startswith("<?xml") and "<svg" in text[:2000]):
        return "figure"
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        return "model"
    if isinstance(doc, list) and doc and all(isinstance(r, dict | list) for r in doc):
        return _records_kind(doc)
    if _delimited_lines(text):
        try:
            return table_kind(read_table(path))
        except AnonymizeError:
            return "frequency_table"
    return "text"


def _records_kind(records: list) -> str:
    """JSON records are a table: a researcher's frame dumped with ``to_json``."""
    try:
        return table_kind(pd.DataFrame(records))
    except (ValueError, TypeError):
        return "frequency_table"


TABLES = ("frequency_table", "magnitude_table")


def check_declared_kind(path: Path, declared: str | None) -> tuple[str, Verdict | None]:
    """The kind to check ``path`` as, and a held verdict when the declaration was wrong.

    The content decides. A table declared as something else, or a model, figure or text
    declared as another of these, is refused (AnonymizeError): its checks could not run.
    A magnitude table declared as counts is checked as what it is and held for the wrong
    label; counts declared as a magnitude table get the stricter rules, no more.
    """
    path = Path(path)
    if declared is not None and declared not in KINDS:
        raise AnonymizeError(f"{path.name}: kind {declared!r} is not one of {', '.join(KINDS)}")
    found = infer_kind(path)
    if declared is None or declared == found:
        return found, None
    if declared in TABLES and found in TABLES:
        if declared == "magnitude_table":
            return declared, None
        return found, Verdict.held("kind", f"{path.name}: declared a table of counts, but its "
                                           f"cells are quantities (a magnitude table): the "
                                           "magnitude rules apply, with contributor counts")
    raise AnonymizeError(f"{path.name}: declared {declared}, but the file holds "
                         f"{DESCRIBED[found]}; the checks follow the content, so declare it "
                         "as what it is")


DESCRIBED = {"frequency_table": "a table (of counts)",
             "magnitude_table": "a table (of magnitudes: its cells are quantities)",
             "model": "a model summary (JSON)", "figure": "an image", "text": "free text"}
