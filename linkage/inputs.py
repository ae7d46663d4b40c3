"""Reading a holder's input file: CSV in the encodings Korean public data comes in, or Parquet.

CSV is read with every column as a string: a leading zero in a phone number or an RRN is
part of the identifier, and type guessing would drop it.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from linkage.errors import InputError

#: Tried in order when no encoding is given; CP949 is a superset of EUC-KR.
DETECTED_ENCODINGS = ("utf-8", "cp949")
_CHUNK = 1 << 20
#: CSV bytes parsed at a time; a field longer than this fails to parse and is diagnosed.
_BLOCK = 16 << 20
#: No identifier or attribute is this long; a longer field is a broken quote or a binary blob.
MAX_FIELD_BYTES = 1 << 20


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


@dataclass
class InputSource:
    """An opened holder file: its columns now, its records batch by batch on demand."""

    path: Path
    column_names: list[str]
    _batches: Callable[[list[str] | None], Iterator[pa.Table]]

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """Tables of up to ``batch_rows`` records; a bad row is an :class:`InputError`."""
        return self._batches(list(columns) if columns is not None else None)


def open_input(path: str | Path, *, encoding: str | None = None,
               batch_rows: int = 500_000) -> InputSource:
    """Open a ``.csv`` or ``.parquet`` holder file for reading in batches."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _open_parquet(path, batch_rows)
    if suffix in (".csv", ".txt"):
        return _open_csv(path, encoding, batch_rows)
    raise InputError(path, "input must be a .csv or .parquet file")


def read_input(path: str | Path, *, encoding: str | None = None) -> pa.Table:
    """Read a whole ``.csv`` or ``.parquet`` holder file; refuse an empty or unreadable one."""
    source = open_input(path, encoding=encoding)
    batches = list(source.batches())
    if not batches or sum(b.num_rows for b in batches) == 0:
        raise InputError(source.path, "file holds no records")
    return pa.concat_tables(batches)


def _open_parquet(path: Path, batch_rows: int) -> InputSource:
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})") from None

    def batches(columns: list[str] | None) -> Iterator[pa.Table]:
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"not a readable Parquet file ({exc})") from None

    return InputSource(path, names, batches)


def _open_csv(path: Path, encoding: str | None, batch_rows: int) -> InputSource:
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
    _refuse_nul(path, encoding, header)
    # pyarrow skips a UTF-8 BOM itself and transcodes other encodings through Python codecs.
    arrow_encoding = "utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") \
        else encoding

    def batches(columns: list[str] | None) -> Iterator[pa.Table]:
        wanted = columns or header
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=arrow_encoding, block_size=_BLOCK),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string()),
                    include_columns=wanted, strings_can_be_null=True, null_values=[""]))
            pending: list[pa.RecordBatch] = []
            done = rows = 0
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= batch_rows:
                    table = pa.Table.from_batches(pending)
                    _refuse_long_fields(path, table, done)
                    yield table
                    done, pending, rows = done + rows, [], 0
            if pending:
                table = pa.Table.from_batches(pending)
                _refuse_long_fields(path, table, done)
                yield table
        except pa.ArrowInvalid as exc:
            row, column, problem = _diagnose(path, encoding, header)
            raise InputError(path, problem or f"cannot parse CSV ({exc})", row=row,
                             column=column) from None

    return InputSource(path, header, batches)


def _refuse_nul(path: Path, encoding: str, header: list[str]) -> None:
    """A NUL byte means a binary or truncated file: refuse it, naming where it is."""
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            at = chunk.find(b"\x00")
            if at >= 0:
                break
            done += len(chunk)
        else:
            return
    offset = done + at
    with open(path, "rb") as fh:
        before = fh.read(offset)
    line_start = before.rfind(b"\n") + 1
    prefix = before[line_start:].decode(encoding, errors="replace")
    fields = next(csv.reader([prefix]), [""])
    index = max(len(fields) - 1, 0)
    raise InputError(path, f"holds a NUL byte (offset {offset}): a binary or damaged file",
                     row=before.count(b"\n") + 1,
                     column=header[index] if index < len(header) else None)


def _refuse_long_fields(path: Path, table: pa.Table, rows_before: int = 0) -> None:
    for name in table.column_names:
        lengths = pc.binary_length(table.column(name))
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_FIELD_BYTES:
            index = pc.index(pc.greater(lengths, MAX_FIELD_BYTES), True).as_py()
            # Row 1 is the header (multi-line quoted fields aside).
            raise InputError(path, f"a field of {longest:,} bytes is longer than the "
                             f"{MAX_FIELD_BYTES:,}-byte limit", row=rows_before + index + 2,
                             column=name)


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


def _diagnose(path: Path, encoding: str, header: list[str]
              ) -> tuple[int | None, str | None, str | None]:
    """Find why Arrow refused the file (row, column, problem), for the error message only."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh)
            for row in reader:
                for index, value in enumerate(row):
                    size = len(value.encode("utf-8"))
                    if size > MAX_FIELD_BYTES:
                        column = header[index] if index < len(header) else None
                        return (reader.line_num, column,
                                f"a field of {size:,} bytes is longer than the "
                                f"{MAX_FIELD_BYTES:,}-byte limit")
                if row and len(row) != len(header):
                    return (reader.line_num, None, f"cannot parse CSV: the row has "
                            f"{len(row)} fields, the header {len(header)}")
    finally:
        csv.field_size_limit(limit)
    return None, None, None


def require_columns(path: str | Path, table: pa.Table | InputSource,
                    columns: Sequence[str], holder_id: str) -> None:
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


__all__ = ["InputSource", "as_text", "detect_encoding", "open_input", "read_input",
           "require_columns"]
