"""Reading a holder's input file: CSV in the encodings Korean public data comes in, or Parquet.

CSV is read with every column as a string: a leading zero in a phone number or an RRN is
part of the identifier, and type guessing would drop it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from linkage.errors import InputError

#: Tried in order when no encoding is given; CP949 is a superset of EUC-KR.
DETECTED_ENCODINGS = ("utf-8", "cp949")
_CHUNK = 1 << 20


def detect_encoding(path: Path) -> str:
    """The first encoding in which the whole file decodes; ``utf-8-sig`` if it has a BOM."""
    with open(path, "rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
    failures = []
    for encoding in DETECTED_ENCODINGS:
        offset = _first_undecodable(path, encoding)
        if offset is None:
            return encoding
        failures.append((encoding, offset))
    encoding, offset = failures[0]
    raise InputError(path, f"not UTF-8 or CP949/EUC-KR text (bad byte at offset {offset}); "
                     "give the encoding with --encoding", row=_line_of(path, offset))


def _first_undecodable(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return done + exc.start
            done += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return done
    return None


def _line_of(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def read_input(path: str | Path, *, encoding: str | None = None) -> pa.Table:
    """Read a ``.csv`` or ``.parquet`` holder file; refuse an empty or unreadable one."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"not a readable Parquet file ({exc})") from None
    elif suffix in (".csv", ".txt"):
        table = _read_csv(path, encoding)
    else:
        raise InputError(path, "input must be a .csv or .parquet file")
    if table.num_rows == 0:
        raise InputError(path, "file holds no records")
    return table


def _read_csv(path: Path, encoding: str | None) -> pa.Table:
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    if encoding is None:
        encoding = detect_encoding(path)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(path, f"unknown encoding '{encoding}'") from None
        offset = _first_undecodable(path, encoding)
        if offset is not None:
            raise InputError(path, f"not valid {encoding} (bad byte at offset {offset})",
                             row=_line_of(path, offset))
    header = _header(path, encoding)
    # pyarrow skips a UTF-8 BOM itself and transcodes other encodings through Python codecs.
    arrow_encoding = "utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") \
        else encoding
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=arrow_encoding),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=True, null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(path, f"cannot parse CSV ({exc})",
                         row=_bad_row(path, encoding, len(header))) from None


def _header(path: Path, encoding: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header or not any(h.strip() for h in header):
        raise InputError(path, "file has no header row", row=1)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(path, "header names a column twice", row=1, column=name)
        if not name.strip():
            raise InputError(path, "header has a column without a name", row=1)
        seen.add(name)
    return header


def _bad_row(path: Path, encoding: str, width: int) -> int | None:
    """Find the row number of a ragged row, for the error message only."""
    with open(path, encoding=encoding, newline="") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if row and len(row) != width:
                return number
    return None


def require_columns(path: str | Path, table: pa.Table, columns: Sequence[str],
                    holder_id: str) -> None:
    present = set(table.column_names)
    for column in columns:
        if column not in present:
            raise InputError(
                path, f"column required by the spec for holder '{holder_id}' is missing "
                f"(the file has: {', '.join(table.column_names)})", column=column)


def as_text(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """The named columns as strings, whatever type Parquet gave them."""
    arrays = []
    for name in columns:
        column = table.column(name)
        arrays.append(column if pa.types.is_string(column.type)
                      else column.cast(pa.string()))
    return pa.table(arrays, names=list(columns))


__all__ = ["as_text", "detect_encoding", "read_input", "require_columns"]
