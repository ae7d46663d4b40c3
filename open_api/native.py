"""The native face: ``/api/v1/datasets`` and each released dataset's metadata, rows and CSV.

A "dataset" here is a release: what the catalog approved for publication. Anything the
source does not list as visible (closed, revoked, expired, unknown) is a 404, whatever the
endpoint, so the API never confirms that a hidden release exists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from open_api.artifacts import ArtifactFacts, Artifacts
from open_api.csv_export import content_disposition, csv_chunks
from open_api.datapackage import data_package
from open_api.dcat import catalog_node, dataset_node, to_jsonld, to_turtle
from open_api.errors import ApiError
from open_api.fast_json import FastJSONResponse
from open_api.guard import native_limits
from open_api.licence import licence_for
from open_api.parameters import public_parameters
from open_api.queries import RowQuery, filter_pairs, row_query
from open_api.rows import Page, cached_page, fetch_page, iter_rows
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
from open_api.values import json_records
from open_api.xml_rows import XML_DECLARATION, RowWriter, xml_safe, xml_stream

MAX_LIMIT = 10_000
#: Query parameters the endpoints take themselves; every other one filters on a column.
ROWS_PARAMETERS = ("limit", "offset", "sort", "order", "format", "api_key")
CSV_PARAMETERS = ("sort", "order", "bom", "encoding", "api_key")
XML_PARAMETERS = ("sort", "order", "api_key")

_ERRORS = {
    400: {"model": ErrorResponse, "description": "Invalid parameter"},
    401: {"model": ErrorResponse, "description": "The API key sent is not valid"},
    404: {"model": ErrorResponse, "description": "No such visible dataset"},
    500: {"model": ErrorResponse, "description": "Internal error"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "Data withheld: missing or failed its checksum"},
}
_GUARDED = {401: _ERRORS[401], 429: _ERRORS[429]}
_FILTER_HELP = (
    " Any other query parameter `<column>=<value>` keeps only rows whose column equals the "
    "value (parsed to the column's type; repeat a column to accept any of several values)."
)

router = APIRouter(
    prefix="/api/v1",
    responses={500: _ERRORS[500], **_GUARDED},
    dependencies=[Depends(native_limits)],
)


def _source(request: Request) -> ReleaseSource:
    return request.app.state.source


def published_releases(request: Request) -> list[Release]:
    """The visible releases, newest first."""
    releases = [r for r in _source(request).open_releases() if publishable(r)]
    return sorted(releases, key=lambda r: (r.created_at, r.id), reverse=True)


def _artifacts(request: Request) -> Artifacts:
    return request.app.state.artifacts


def visible_release(request: Request, release_id: str) -> Release:
    lookups = getattr(request.app.state, "release_lookups", None)
    release = (lookups.get(release_id) if lookups is not None
               else _source(request).get_release(release_id))
    if release is None or not publishable(release):
        raise ApiError("not_found", f"no published dataset {release_id!r}")
    return release


def release_and_facts(
    source: ReleaseSource, artifacts: Artifacts, release_id: str
) -> tuple[Release | None, ArtifactFacts | ApiError | None]:
    """The visible release and its artifact's facts (or why they are withheld); a release
    that is not visible is ``(None, None)``. One catalog lookup and one ``stat`` of the file:
    what :func:`visible_release_facts` shares between concurrent requests."""
    release = source.get_release(release_id)
    if release is None or not publishable(release):
        return None, None
    try:
        return release, artifacts.facts(release)
    except ApiError as exc:
        return release, exc


async def visible_release_facts(
    request: Request, release_id: str
) -> tuple[Release, ArtifactFacts]:
    """:func:`visible_release` and the artifact's facts, for ``async`` handlers: waits on the
    event loop for a shared lookup (:class:`open_api.lookups.AsyncSharedLookups`) that began
    after the request arrived, so a revocation or a swapped file is seen by the next request.
    """
    lookups = getattr(request.app.state, "release_facts", None)
    if lookups is not None:
        release, facts = await lookups.get(release_id)
    else:
        release, facts = await run_in_threadpool(
            release_and_facts, _source(request), _artifacts(request), release_id)
    if release is None:
        raise ApiError("not_found", f"no published dataset {release_id!r}")
    if isinstance(facts, ApiError):  # shared by the requests of one lookup: raise a copy
        raise ApiError(facts.code, facts.message, facts.details, headers=facts.headers)
    return release, facts


def links(request: Request, release_id: str) -> Links:
    base = f"{request.scope.get('root_path', '')}/api/v1/datasets/{quote(release_id, safe='')}"
    return Links(metadata=base, rows=f"{base}/rows", csv=f"{base}.csv")


def api_url(request: Request) -> str:
    """The absolute URL of ``/api/v1`` as the client reached it."""
    return str(request.base_url).rstrip("/") + "/api/v1"


def dataset_url(request: Request, release_id: str) -> str:
    return f"{api_url(request)}/datasets/{quote(release_id, safe='')}"


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
                parameters=public_parameters(release.parameters),
                created_at=release.created_at,
                row_count=row_count,
                status=status,
                links=links(request, release.id),
            )
        )
    return DatasetList(count=len(summaries), datasets=summaries)


@router.get(
    "/datasets/{release_id}/data.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The dataset as CSV"},
        **_ERRORS,
    },
    summary="Download a dataset as CSV (the path its Data Package names)",
    description="The same as `{release_id}.csv`." + _FILTER_HELP,
)
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
    "/datasets/{release_id}/rows",
    response_model=RowsPage,
    responses={
        200: {"content": {"application/xml": {"schema": {"type": "string"}}},
              "description": "A page of rows: JSON (RowsPage), or XML with format=xml"},
        **_ERRORS,
    },
    summary="A page of a dataset's rows",
    description="Paged with `limit` and `offset`, sorted with `sort` and `order`; JSON, or XML "
    "with `format=xml`." + _FILTER_HELP,
)
async def dataset_rows(
    release_id: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str | None, Query(description="Column to sort by.")] = None,
    order: Literal["asc", "desc"] = "asc",
    format: Annotated[Literal["json", "xml"], Query(description="json or xml.")] = "json",
) -> Response:
    # Async: a page of a release in memory is made on the event loop, and only a catalog
    # lookup (shared) or a DuckDB query goes to a thread; a thread per page was the largest
    # cost of a page under 200 connections (bench/api.py).
    filters = filter_pairs(request.query_params.multi_items(), ROWS_PARAMETERS)
    release, query, page = await release_page(request, release_id, filters, sort, order,
                                              limit, offset)
    if format == "xml":
        head = (f'{XML_DECLARATION}<rows dataset="{xml_safe(release.id)}" total="{page.total}" '
                f'limit="{limit}" offset="{offset}">')
        body = head + RowWriter(page.names, "row").rows(page.rows) + "</rows>"
        return Response(body, media_type="application/xml")
    return rows_response(release, query, page, limit, offset)


async def release_page(request: Request, release_id: str, filters: list[tuple[str, str]],
                       sort: str | None, order: str, limit: int,
                       offset: int) -> tuple[Release, RowQuery, Page]:
    """A visible release, the query of its rows, and one page of them: from memory where the
    table is cached, else from DuckDB on a worker thread. ``/rows`` and its fast path
    (:mod:`open_api.fast_pages`) both page through here."""
    release, facts = await visible_release_facts(request, release_id)
    query = row_query(facts, filters, sort, order)
    tables = request.app.state.tables
    page = cached_page(query, limit, offset, tables)
    if page is None:
        page = await run_in_threadpool(fetch_page, query, limit, offset, tables)
    return release, query, page


def rows_response(release: Release, query: RowQuery, page: Page, limit: int,
                  offset: int) -> FastJSONResponse:
    """A page as JSON (:class:`RowsPage`): the answer of ``/rows`` and of its fast path
    (:mod:`open_api.fast_pages`)."""
    # Built directly rather than through RowsPage: validating each row would double the cost.
    rows = json_records(page.names, [c.type for c in query.columns], page.rows)
    content: dict[str, Any] = {
        "dataset": release.id, "total": page.total, "limit": limit, "offset": offset,
        "rows": rows,
    }
    return FastJSONResponse(content)


@router.get(
    "/datasets/{release_id}.xml",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/xml": {"schema": {"type": "string"}}},
              "description": "The whole dataset as XML, streamed"},
        **_ERRORS,
    },
    summary="Download a dataset as XML",
    description="`<dataset id=...><row><column>value</column>...</row>...</dataset>`; sorted "
    "and filtered as for /rows." + _FILTER_HELP,
)
def dataset_xml(
    release_id: str,
    request: Request,
    sort: Annotated[str | None, Query(description="Column to sort by.")] = None,
    order: Literal["asc", "desc"] = "asc",
) -> StreamingResponse:
    release = visible_release(request, release_id)
    facts = _artifacts(request).facts(release)
    query = row_query(facts, filter_pairs(request.query_params.multi_items(), XML_PARAMETERS),
                      sort, order)
    names = [c.name for c in query.columns]
    return StreamingResponse(
        xml_stream("dataset", {"id": release.id}, names, iter_rows(query)),
        media_type="application/xml",
    )


_JSONLD = "application/ld+json"
_TURTLE = "text/turtle; charset=utf-8"


@router.get(
    "/datasets/{release_id}/datapackage.json",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}},
                     "description": "Frictionless Data Package descriptor"},
               404: _ERRORS[404], 503: _ERRORS[503]},
    summary="A dataset's metadata as a Frictionless Data Package (Table Schema)",
)
def dataset_datapackage(release_id: str, request: Request) -> JSONResponse:
    release = visible_release(request, release_id)
    facts = _artifacts(request).facts(release)
    return JSONResponse(data_package(release, facts, dataset_url(request, release.id)))


def _dataset_graph(request: Request, release_id: str):
    release = visible_release(request, release_id)
    _artifacts(request).facts(release)  # withheld data is not described as available
    return dataset_node(release, dataset_url(request, release.id),
                        request.app.state.config.publisher)


@router.get(
    "/datasets/{release_id}.jsonld",
    response_class=Response,
    responses={200: {"content": {_JSONLD: {"schema": {"type": "object"}}},
                     "description": "DCAT-AP 3 description, JSON-LD"},
               404: _ERRORS[404], 503: _ERRORS[503]},
    summary="A dataset's DCAT-AP 3 description as JSON-LD",
)
def dataset_jsonld(release_id: str, request: Request) -> Response:
    graph = to_jsonld(_dataset_graph(request, release_id))
    return JSONResponse(graph, media_type=_JSONLD)


@router.get(
    "/datasets/{release_id}.ttl",
    response_class=Response,
    responses={200: {"content": {"text/turtle": {"schema": {"type": "string"}}},
                     "description": "DCAT-AP 3 description, Turtle"},
               404: _ERRORS[404], 503: _ERRORS[503]},
    summary="A dataset's DCAT-AP 3 description as Turtle",
)
def dataset_turtle(release_id: str, request: Request) -> Response:
    return Response(to_turtle(_dataset_graph(request, release_id)), media_type=_TURTLE)


def _catalog_graph(request: Request):
    return catalog_node(published_releases(request), api_url(request),
                        request.app.state.config.publisher)


@router.get(
    "/catalog.jsonld",
    response_class=Response,
    responses={200: {"content": {_JSONLD: {"schema": {"type": "object"}}},
                     "description": "DCAT-AP 3 catalogue, JSON-LD"}},
    summary="The catalogue of published datasets as DCAT-AP 3 JSON-LD",
)
def catalog_jsonld(request: Request) -> Response:
    return JSONResponse(to_jsonld(_catalog_graph(request)), media_type=_JSONLD)


@router.get(
    "/catalog.ttl",
    response_class=Response,
    responses={200: {"content": {"text/turtle": {"schema": {"type": "string"}}},
                     "description": "DCAT-AP 3 catalogue, Turtle"}},
    summary="The catalogue of published datasets as DCAT-AP 3 Turtle",
)
def catalog_turtle(request: Request) -> Response:
    return Response(to_turtle(_catalog_graph(request)), media_type=_TURTLE)


@router.get(
    "/datasets/{release_id}.parquet",
    response_class=FileResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}},
                     "description": "The released file itself"}, **_ERRORS},
    summary="Download a dataset as the released Parquet file (checked against its SHA-256)",
)
def dataset_parquet(release_id: str, request: Request) -> FileResponse:
    release = visible_release(request, release_id)
    facts = _artifacts(request).facts(release)  # refuses a file that fails its checksum
    return FileResponse(facts.path, media_type="application/vnd.apache.parquet",
                        filename=f"{release.id}.parquet")


# Last: its path would also match the suffixed paths above (x.csv, x.ttl, ...).
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
        parameters=public_parameters(release.parameters),
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
