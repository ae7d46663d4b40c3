"""A release as CSV, streamed in batches so memory stays flat however large the file.

Decision on encodings: UTF-8 by default (``bom=true`` prepends a BOM so spreadsheet programs
detect it); ``encoding=cp949`` for users whose tools expect the Korean Windows code page. A
CP949 download is checked before the first byte is sent: if any header or text cell cannot be
written in CP949, the request fails with 400 ``unencodable`` naming the row and column, rather
than sending a file with replaced characters or one cut short mid-stream. The check is done
once per version of the artifact and remembered.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from urllib.parse import quote

from open_api.download_cache import Body, downloads
from open_api.heavy import BoundedStream, bounded
from open_api.queries import RowQuery
from open_api.rows import iter_rows
from open_api.values import csv_cell

UTF8_BOM = "\ufeff"


def csv_chunks(
    query: RowQuery, *, encoding: str, bom: bool, row_id: bool = False, delimiter: str = ","
) -> BoundedStream | Body:
    """The CSV bytes of the query's rows: a header, then one chunk per batch of rows.

    ``row_id`` starts each row with ``_id``, its position in the file (CKAN's dumps do).
    A download slot is taken at once (429 beyond the bound, before any byte is sent) and
    given back when the stream ends, is closed or is dropped; iterated asynchronously, the
    chunks are made on the download threads (:mod:`open_api.heavy`). The same download
    made recently of the same version of the file is sent from memory instead
    (:mod:`open_api.download_cache`), without a slot.
    """
    sql, parameters = query.select_sql(paged=False, row_id=row_id)
    key = ("csv", query.facts.version_key, sql, tuple(parameters), encoding, bom, delimiter)
    chunks = _csv_chunks(query, encoding=encoding, bom=bom, row_id=row_id, delimiter=delimiter)
    if not query.facts.version_key:  # no version to tell a changed file by: never kept
        return bounded(chunks)
    kept = downloads.get(key)
    if kept is not None:
        return Body(kept)
    return bounded(downloads.keeping(key, chunks))


def _csv_chunks(
    query: RowQuery, *, encoding: str, bom: bool, row_id: bool, delimiter: str
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", delimiter=delimiter)

    def drain() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode(encoding)

    if bom:
        buffer.write(UTF8_BOM)
    header = [column.name for column in query.columns]
    writer.writerow(["_id", *header] if row_id else header)
    yield drain()
    for batch in iter_rows(query, row_id=row_id):
        writer.writerows([csv_cell(value) for value in row] for row in batch)
        yield drain()


def content_disposition(release_id: str) -> str:
    """An attachment header whose file name survives any characters in the release id.

    >>> content_disposition("housing-2026")
    'attachment; filename="housing-2026.csv"; filename*=UTF-8\\'\\'housing-2026.csv'
    """
    name = f"{release_id}.csv"
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
