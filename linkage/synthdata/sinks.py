"""Table files written chunk by chunk (Parquet row groups or appended CSV), so memory stays flat."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("parquet", "csv")


class TableSink:
    """One output table; ``write`` appends a chunk, ``close`` finishes the file."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.rows = 0
        if fmt == "parquet":
            self._writer: pq.ParquetWriter | pacsv.CSVWriter = pq.ParquetWriter(
                path, schema, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
