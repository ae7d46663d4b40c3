"""The native face: ``/api/v1/datasets`` and each released dataset's metadata, rows and CSV.

A "dataset" here is a release: what the catalog approved for publication. Anything the
source does not list as visible (closed, revoked, expired, unknown) is a 404, whatever the
endpoint, so the API never confirms that a hidden release exists.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from open_api.artifacts import Artifacts
from open_api.csv_export import content_disposition, csv_chunks
from open_api.errors import ApiError
from open_api.licence import licence_for
from open_api.queries import filter_pairs, row_query
from open_api.schemas import (
    ColumnSchema,
    DatasetList,
    DatasetMetadata,
    DatasetSummary,
    ErrorResponse,
    Licence,
    Links,
    RowsPage,
)
from open_api.source import Release, ReleaseSource, publishable
from open_api.values import json_value

MAX_LIMIT = 10_000
#: Query parameters the endpoints take themselves; every other one filters on a column.
ROWS_PARAMETERS = ("limit", "offset", "sort", "order")
CSV_PARAMETERS = ("sort", "order", "bom", "encoding")

_ERRORS = {
    400: {"model": ErrorResponse, "description": "Invalid parameter"},
    404: {"model": ErrorResponse, "description": "No such visible dataset"},
    500: {"model": ErrorResponse, "description": "Internal error"},
    503: {"model": ErrorResponse, "description": "Data withheld: missing or failed its checksum"},
}
_FILTER_HELP = (
    " Any other query parameter `<column>=<value>` keeps only rows whose column equals the "
    "value (parsed to the column's type; repeat a column to accept any of several values)."
)

router = APIRouter(prefix="/api/v1", responses={500: _ERRORS[500]})


def _source(request: Request) -> ReleaseSource:
    return request.app.state.source


def published_releases(request: Request) -> list[Release]:
    """The visible releases, newest first."""
    releases = [r for r in _source(request).open_releases() if publishable(r)]
    return sorted(releases, key=lambda r: (r.created_at, r.id), reverse=True)


def _artifacts(request: Request) -> Artifacts:
    return request.app.state.artifacts


def visible_release(request: Request, release_id: str) -> Release:
    release = _source(request).get_release(release_id)
    if release is None or not publishable(release):
        raise ApiError("not_found", f"no published dataset {release_id!r}")
    return release


def links(request: Request, release_id: str) -> Links:
    base = f"{request.scope.get('root_path', '')}/api/v1/datasets/{quote(release_id, safe='')}"
    return Links(metadata=base, rows=f"{base}/rows", csv=f"{base}.csv")


@router.get(
    "/datasets",
    response_model=DatasetList,
    responses={400: _ERRORS[400]},
    summary="List published datasets",
)
def list_datasets(
    request: Request,
    q: Annotated[str | None, Query(description="Words to find in title or description.")] = None,
) -> DatasetList:
    releases = published_releases(request)
    if q:
        needle = q.casefold()
        releases = [
            r for r in releases
            if needle in r.title.casefold() or needle in (r.description or "").casefold()
        ]
    summaries = []
    for release in releases:
        try:
            row_count: int | None = _artifacts(request).facts(release).row_count
            status = "available"
        except ApiError:
            # One withheld artifact must not hide the others; it is listed as unavailable.
            row_count, status = None, "unavailable"
        summaries.append(
            DatasetSummary(
                id=release.id,
                title=release.title,
                description=release.description or "",
                form=release.form,
                parameters=dict(release.parameters),
                created_at=release.created_at,
                row_count=row_count,
                status=status,
                links=links(request, release.id),
            )
        )
    return DatasetList(count=len(summaries), datasets=summaries)


@router.get(
    "/datasets/{release_id}.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The dataset as CSV"},
        **_ERRORS,
    },
    summary="Download a dataset as CSV",
    description="Streamed; `sort`/`order` and column filters as for /rows." + _FILTER_HELP,
)
def dataset_csv(
    release_id: str,
    request: Request,
    bom: Annotated[bool, Query(description="Prepend a UTF-8 byte order mark.")] = False,
    encoding: Annotated[
        Literal["utf-8", "cp949"], Query(description="utf-8, or cp949 for older Korean tools.")
    ] = "utf-8",
    sort: Annotated[str | None, Query(description="Column to sort by.")] = None,
    order: Literal["asc", "desc"] = "asc",
) -> StreamingResponse:
    release = visible_release(request, release_id)
    if bom and encoding != "utf-8":
        raise ApiError(
            "invalid_parameter",
            "bom=true applies to UTF-8 only; leave it out with encoding=cp949",
            [{"parameter": "bom", "message": "only with encoding=utf-8"}],
        )
    facts = _artifacts(request).facts(release)
    filters = filter_pairs(request.query_params.multi_items(), CSV_PARAMETERS)
    query = row_query(facts, filters, sort, order)
    if encoding != "utf-8":
        problem = _artifacts(request).encoding_problem(release, encoding)
        if problem is not None:
            raise problem
    charset = "utf-8" if encoding == "utf-8" else "cp949"
    return StreamingResponse(
        csv_chunks(query, encoding=encoding, bom=bom),
        media_type=f"text/csv; charset={charset}",
        headers={"Content-Disposition": content_disposition(release.id)},
    )


@router.get(
    "/datasets/{release_id}",
    response_model=DatasetMetadata,
    responses={404: _ERRORS[404], 503: _ERRORS[503]},
    summary="A dataset's metadata: schema, release form and parameters, provenance, licence",
)
def dataset_metadata(release_id: str, request: Request) -> DatasetMetadata:
    release = visible_release(request, release_id)
    facts = _artifacts(request).facts(release)
    return DatasetMetadata(
        id=release.id,
        title=release.title,
        description=release.description or "",
        form=release.form,
        parameters=dict(release.parameters),
        provenance={"dataset_id": release.dataset_id},
        released_at=release.created_at,
        expires_at=release.expires_at,
        checksum={"algorithm": "sha256", "value": release.checksum.lower()},
        licence=Licence(**licence_for(release.parameters)),
        row_count=facts.row_count,
        columns=[
            ColumnSchema(
                name=column.name,
                type=column.type,
                classification=release.columns.get(column.name),
            )
            for column in facts.columns
        ],
        links=links(request, release.id),
    )


@router.get(
    "/datasets/{release_id}/rows",
    response_model=RowsPage,
    responses=_ERRORS,
    summary="A page of a dataset's rows",
    description="Paged with `limit` and `offset`, sorted with `sort` and `order`." + _FILTER_HELP,
)
def dataset_rows(
    release_id: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str | None, Query(description="Column to sort by.")] = None,
    order: Literal["asc", "desc"] = "asc",
) -> RowsPage:
    release = visible_release(request, release_id)
    facts = _artifacts(request).facts(release)
    filters = filter_pairs(request.query_params.multi_items(), ROWS_PARAMETERS)
    query = row_query(facts, filters, sort, order)
    names = [column.name for column in facts.columns]
    sql, parameters = query.select_sql(paged=True)
    count_sql, count_parameters = query.count_sql()
    # One connection per request: DuckDB connections are not shared across threads.
    with duckdb.connect() as con:
        (total,) = con.execute(count_sql, count_parameters).fetchone()
        fetched = con.execute(sql, [*parameters, limit, offset]).fetchall()
    rows = [
        {name: json_value(value) for name, value in zip(names, row, strict=True)}
        for row in fetched
    ]
    return RowsPage(dataset=release.id, total=int(total), limit=limit, offset=offset, rows=rows)
