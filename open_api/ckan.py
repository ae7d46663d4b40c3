"""The CKAN face: the read actions of CKAN's Action API and DataStore over the releases.

``/api/3/action/<action>`` (and ``/api/action/<action>``) answers GET with query parameters
and POST with a JSON object, as CKAN does (the ``ckanapi`` client posts JSON), inside CKAN's
envelope ``{"help", "success", "result"}``; failures are ``{"help", "success": false, "error":
{"__type", "message", ...}}`` with CKAN's types and statuses (Not Found Error 404,
Validation Error 409 naming the field, Authorization Error 403 for any write action).
Parameters are checked strictly: an unknown one is a Validation Error, not silently ignored,
except the flags ``ckanapi`` and CKAN's own pages send, which change nothing here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from open_api.ckan_packages import (
    datastore_type,
    organization_dict,
    package_dict,
    resource_dict,
)
from open_api.csv_export import content_disposition, csv_chunks
from open_api.errors import ApiError
from open_api.native import published_releases, visible_release
from open_api.outages import is_outage, outage_error
from open_api.queries import build_query
from open_api.rows import fetch_page
from open_api.values import csv_cell, json_value

log = logging.getLogger(__name__)

DEFAULT_DATASTORE_LIMIT = 100
MAX_DATASTORE_LIMIT = 32_000  # CKAN's ckan.datastore.search.rows_max default
MAX_SEARCH_ROWS = 1000


#: CKAN's error types and the HTTP status each is answered with.
ERROR_STATUS = {"Not Found Error": 404, "Validation Error": 409, "Authorization Error": 403,
                "Search Query Error": 409, "Bad Request": 400, "Service Unavailable": 503,
                "Internal Server Error": 500}


class CkanError(Exception):

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.field = kind, message, field

    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"__type": self.kind, "message": self.message}
        if self.field:
            error[self.field] = [self.message]
        return error


def _invalid(field: str, message: str) -> CkanError:
    return CkanError("Validation Error", f"{field}: {message}", field)


# Parameters -------------------------------------------------------------------------------


class Params:
    """One action's parameters, read once, each checked when asked for; leftovers refused."""

    def __init__(self, values: dict[str, Any], ignored: frozenset[str]) -> None:
        self._values = values
        self._used = set(ignored)

    def raw(self, name: str) -> Any:
        self._used.add(name)
        return self._values.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise _invalid(name, "Missing value")
            return None
        if not isinstance(value, str):
            raise _invalid(name, "must be text")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _invalid(name, "must be a whole number")
        try:
            number = int(value)
        except ValueError:
            raise _invalid(name, f"must be a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise _invalid(name, f"must be between {low} and {high}, got {number}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
            return value.lower() in {"true", "1"}
        raise _invalid(name, f"must be true or false, got {value!r}")

    def json(self, name: str) -> Any:
        """A value given as JSON text (GET) or as itself (POST)."""
        value = self.raw(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                raise _invalid(name, "is not valid JSON") from None
        return value

    def given(self) -> dict[str, Any]:
        """Every parameter as the client sent it (for links that repeat the query)."""
        return dict(self._values)

    def finish(self) -> None:
        extra = sorted(set(self._values) - self._used)
        if extra:
            raise CkanError(
                "Validation Error", f"unknown parameter(s): {', '.join(extra)}", extra[0]
            )


def _site(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _organization(request: Request, package_count: int | None = None) -> dict[str, Any]:
    config = request.app.state.config
    return organization_dict(config.organization_name, config.organization_title,
                             package_count=package_count)


def _packages(request: Request) -> list[dict[str, Any]]:
    site, organization = _site(request), _organization(request)
    return [package_dict(r, site, organization) for r in published_releases(request)]


def _release(request: Request, identifier: str, field: str):
    try:
        return visible_release(request, identifier)
    except ApiError:
        raise CkanError("Not Found Error", f"Not found: no published {field} {identifier!r}",
                        ) from None


# Actions ----------------------------------------------------------------------------------

_LIST_FLAGS = frozenset({"include_private", "include_drafts", "include_deleted"})
_SHOW_FLAGS = frozenset({"include_datasets", "include_password_hash", "include_users",
                         "include_tracking", "use_default_schema", "include_plugin_data"})
_SEARCH_FLAGS = frozenset({"include_private", "include_drafts", "facet", "facet.field",
                           "facet.limit", "facet.mincount", "use_default_schema",
                           "include_deleted"})


def package_list(request: Request, p: Params) -> list[str]:
    limit = p.integer("limit", MAX_SEARCH_ROWS * 100, 1, MAX_SEARCH_ROWS * 100)
    offset = p.integer("offset", 0, 0, 10**9)
    p.finish()
    names = sorted(r.id for r in published_releases(request))
    return names[offset:offset + limit]


def package_show(request: Request, p: Params) -> dict[str, Any]:
    identifier = p.text("id", required=True)
    p.finish()
    return package_dict(_release(request, identifier, "dataset"), _site(request),
                        _organization(request))


def resource_show(request: Request, p: Params) -> dict[str, Any]:
    identifier = p.text("id", required=True)
    p.finish()
    return resource_dict(_release(request, identifier, "resource"), _site(request))


_FQ_TERM = re.compile(r'\s*([+]?)([A-Za-z_]+):("(?:[^"\\]|\\.)*"|\S+)')
_FQ_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "name": lambda pkg: [pkg["name"]],
    "id": lambda pkg: [pkg["id"]],
    "title": lambda pkg: [pkg["title"]],
    "license_id": lambda pkg: [pkg["license_id"]],
    "res_format": lambda pkg: ["CSV"],
    "tags": lambda pkg: [t["name"] for t in pkg["tags"]],
    "release_form": lambda pkg: [pkg["tags"][0]["name"]],
}
_SORTS = {"name": "name", "title_string": "title", "metadata_created": "metadata_created",
          "metadata_modified": "metadata_modified", "score": None}


def _fq_terms(fq: str) -> list[tuple[str, str]]:
    """``field:value`` terms, ANDed (Solr's filter-query syntax, its simple subset).

    >>> _fq_terms('res_format:CSV +tags:"dp_aggregate"')
    [('res_format', 'CSV'), ('tags', 'dp_aggregate')]
    """
    terms, position = [], 0
    while position < len(fq.rstrip()):
        match = _FQ_TERM.match(fq, position)
        if not match:
            raise CkanError("Search Query Error", f"cannot parse fq {fq!r}: give field:value "
                            "terms (name, id, title, license_id, res_format, tags)")
        field, value = match.group(2), match.group(3)
        if field not in _FQ_FIELDS:
            raise CkanError("Search Query Error", f"fq: unknown field {field!r}")
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                raise CkanError("Search Query Error", f"fq: unterminated or malformed quoted "
                                f"value for {field!r}: close it with a double quote") from None
        terms.append((field, value))
        position = match.end()
    return terms


def _sort_key(sort: str) -> tuple[str | None, bool]:
    first = sort.split(",")[0].split()
    field = first[0] if first else "score"
    direction = first[1].lower() if len(first) > 1 else "asc"
    if field not in _SORTS or direction not in {"asc", "desc"} or len(first) > 2:
        raise _invalid("sort", f"cannot sort by {sort!r}; use name, title_string, "
                       "metadata_created or metadata_modified with asc or desc")
    return _SORTS[field], direction == "desc"


def package_search(request: Request, p: Params) -> dict[str, Any]:
    q = p.text("q") or ""
    fq = p.text("fq") or ""
    rows = p.integer("rows", 10, 0, MAX_SEARCH_ROWS)
    start = p.integer("start", 0, 0, 10**9)
    sort = p.text("sort") or "score desc, metadata_modified desc"
    p.finish()
    field, descending = _sort_key(sort)
    packages = _packages(request)
    terms = _fq_terms(fq)
    words: list[str] = []
    if q.strip() not in {"", "*:*"}:
        for word in q.split():
            if ":" in word:
                terms += _fq_terms(word)
            else:
                words.append(word.casefold())
    def matches(pkg: dict[str, Any]) -> bool:
        text = " ".join([pkg["name"], pkg["title"], pkg["notes"],
                         *(t["name"] for t in pkg["tags"])]).casefold()
        return all(w in text for w in words) and all(
            value.casefold() in (v.casefold() for v in _FQ_FIELDS[f](pkg)) for f, value in terms
        )
    found = [pkg for pkg in packages if matches(pkg)]
    if field is None:  # "score": most recently modified first, as CKAN's default
        found.sort(key=lambda pkg: (pkg["metadata_modified"], pkg["name"]), reverse=True)
    else:
        found.sort(key=lambda pkg: (pkg[field], pkg["name"]), reverse=descending)
    return {"count": len(found), "results": found[start:start + rows], "sort": sort,
            "facets": {}, "search_facets": {}}


def _filter_text(field: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise _invalid("filters", f"value for {field!r} must be text, a number or true/false")


def _filters(raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise _invalid("filters", "must be a JSON object of column: value")
    pairs = []
    for field, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            raise _invalid("filters", f"empty list of values for {field!r}")
        pairs += [(field, _filter_text(field, v)) for v in values]
    return pairs


def _names(raw: Any, field: str) -> list[str] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return [name.strip() for name in raw.split(",") if name.strip()]
    if isinstance(raw, list) and all(isinstance(name, str) for name in raw):
        return raw
    raise _invalid(field, "must be a comma-separated list of column names")


def _sort_columns(raw: Any) -> list[tuple[str, str]]:
    keys = []
    for part in _names(raw, "sort") or []:
        words = part.rsplit(" ", 1)
        if len(words) == 2 and words[1].lower() in {"asc", "desc"}:
            keys.append((words[0].strip().strip('"'), words[1].lower()))
        else:
            keys.append((part.strip('"'), "asc"))
    return keys


def datastore_search(request: Request, p: Params) -> dict[str, Any]:
    identifier = p.text("resource_id") or p.text("id")
    if identifier is None:
        raise _invalid("resource_id", "Missing value")
    filters = _filters(p.json("filters"))
    q = p.raw("q")
    if isinstance(q, dict | list) or (isinstance(q, str) and q.startswith("{")):
        raise _invalid("q", "per-field search is not offered; use filters for exact values")
    if q is not None and not isinstance(q, str):
        raise _invalid("q", "must be text")
    limit = p.integer("limit", DEFAULT_DATASTORE_LIMIT, 0, MAX_DATASTORE_LIMIT)
    offset = p.integer("offset", 0, 0, 10**12)
    sort = _sort_columns(p.raw("sort"))
    fields = _names(p.raw("fields"), "fields")
    include_total = p.boolean("include_total", True)
    records_format = p.text("records_format") or "objects"
    if records_format not in {"objects", "lists", "csv", "tsv"}:
        raise _invalid("records_format", "must be objects, lists, csv or tsv")
    if p.boolean("distinct", False):
        raise _invalid("distinct", "distinct is not offered")
    p.boolean("plain", True)
    p.text("language")
    p.finish()
    release = _release(request, identifier, "resource")
    facts = request.app.state.artifacts.facts(release)
    with_id = fields is None or "_id" in fields
    select = None if fields is None else [f for f in fields if f != "_id"]
    sort = [(name, direction) for name, direction in sort if name != "_id" or direction == "desc"]
    try:
        query = build_query(facts, filters=filters, sort=sort, search=q or None, select=select)
    except ApiError as exc:
        field = "sort" if "sort" in exc.message[:6] else (
            "fields" if exc.message.startswith("fields") else "filters")
        raise _invalid(field, exc.message) from None
    page = fetch_page(query, limit, offset, request.app.state.tables,
                      with_total=include_total, row_id=with_id)
    described = [{"id": "_id", "type": "int"}] if with_id else []
    described += [{"id": c.name, "type": datastore_type(c)} for c in query.columns]
    if records_format == "objects":
        records: Any = [{n: json_value(v) for n, v in zip(page.names, row, strict=True)}
                        for row in page.rows]
    elif records_format == "lists":
        records = [[json_value(v) for v in row] for row in page.rows]
    else:
        import csv
        import io
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n",
                            delimiter="," if records_format == "csv" else "\t")
        writer.writerows([csv_cell(v) for v in row] for row in page.rows)
        records = buffer.getvalue()
    result: dict[str, Any] = {
        "include_total": include_total,
        "resource_id": release.id,
        "fields": described,
        "records_format": records_format,
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": _links(request.url.path, p.given(), offset, limit),
    }
    if include_total:
        result["total"] = page.total
        result["total_was_estimated"] = False
    return result


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _links(path: str, given: dict[str, Any], offset: int, limit: int) -> dict[str, str]:
    """CKAN's ``_links``: the same query (filters, sort, limit, fields... all of it) at the
    first, next and previous offsets, whether the client sent it as GET or as a JSON POST."""
    query = {name: _query_text(value) for name, value in given.items() if name != "offset"}

    def at(position: int | None) -> str:
        params = dict(query) if position is None else {**query, "offset": str(position)}
        return f"{path}?{urlencode(params)}"

    links = {"start": at(None), "next": at(offset + limit)}
    if offset - limit > 0:
        links["prev"] = at(offset - limit)
    return links


def organization_list(request: Request, p: Params) -> list[Any]:
    all_fields = p.boolean("all_fields", False)
    limit = p.integer("limit", 1000, 0, 1000)
    offset = p.integer("offset", 0, 0, 10**9)
    p.text("sort")
    p.boolean("include_dataset_count", True)
    p.finish()
    if not all_fields:
        return [request.app.state.config.organization_name][offset:offset + limit]
    count = len(published_releases(request))
    return [_organization(request, count)][offset:offset + limit]


def organization_show(request: Request, p: Params) -> dict[str, Any]:
    identifier = p.text("id", required=True)
    include_datasets = p.boolean("include_datasets", False)
    p.finish()
    if identifier != request.app.state.config.organization_name:
        raise CkanError("Not Found Error", f"Not found: no organization {identifier!r}")
    packages = _packages(request)
    organization = _organization(request, len(packages))
    if include_datasets:
        organization["packages"] = packages
    return organization


def group_list(request: Request, p: Params) -> list[Any]:
    p.boolean("all_fields", False)
    p.finish()
    return []  # releases are grouped by their organisation only


def tag_list(request: Request, p: Params) -> list[Any]:
    query = (p.text("query") or "").casefold()
    all_fields = p.boolean("all_fields", False)
    p.finish()
    names = sorted({t["name"] for pkg in _packages(request) for t in pkg["tags"]
                    if query in t["name"].casefold()})
    if all_fields:
        return [{"id": name, "name": name, "display_name": name, "vocabulary_id": None}
                for name in names]
    return names


def current_package_list_with_resources(request: Request, p: Params) -> list[dict[str, Any]]:
    limit = p.integer("limit", MAX_SEARCH_ROWS, 1, MAX_SEARCH_ROWS)
    offset = p.integer("offset", 0, 0, 10**9)
    page = p.integer("page", 0, 0, 10**6)
    p.finish()
    if page:
        offset = (page - 1) * limit
    packages = sorted(_packages(request), key=lambda pkg: (pkg["metadata_modified"],
                                                           pkg["name"]), reverse=True)
    return packages[offset:offset + limit]


def help_show(request: Request, p: Params) -> str:
    name = p.text("name", required=True)
    p.finish()
    entry = ACTIONS.get(name)
    if entry is None:
        raise CkanError("Not Found Error", f"Not found: Action function not found: {name}")
    return entry[2]


def status_show(request: Request, p: Params) -> dict[str, Any]:
    p.finish()
    return {"site_title": "pseudolink open data", "site_url": _site(request),
            "site_description": "", "ckan_version": "2.10.0", "api_version": 3,
            "locale_default": "ko", "extensions": ["datastore"]}


ACTIONS: dict[str, tuple[Callable[[Request, Params], Any], frozenset[str], str]] = {
    "package_list": (package_list, _LIST_FLAGS, "Names of the published datasets."),
    "package_show": (package_show, _SHOW_FLAGS, "One dataset (id: its name)."),
    "package_search": (package_search, _SEARCH_FLAGS,
                       "Datasets matching q (words) and fq (field:value terms), paged with "
                       "rows and start."),
    "resource_show": (resource_show, frozenset(), "A dataset's CSV resource."),
    "datastore_search": (datastore_search, frozenset(),
                         "Rows of a resource: filters (JSON object), q, limit, offset, sort, "
                         "fields, include_total, records_format (objects, lists, csv, tsv)."),
    "status_show": (status_show, frozenset(), "What this site is."),
    "organization_list": (organization_list, frozenset(),
                          "The publishing organisation's name (all_fields: its details)."),
    "organization_show": (organization_show, _SHOW_FLAGS - {"include_datasets"},
                          "The publishing organisation (include_datasets: with its "
                          "packages)."),
    "group_list": (group_list, _LIST_FLAGS, "Groups: none; releases belong to the agency."),
    "tag_list": (tag_list, frozenset({"vocabulary_id"}),
                 "Tags of the published datasets (their release forms)."),
    "current_package_list_with_resources": (
        current_package_list_with_resources, frozenset(),
        "Every published dataset with its resources, most recently modified first."),
    "help_show": (help_show, frozenset(), "What an action does (name: the action)."),
}

#: Actions that change things, or that a read-only open-data server does not offer.
REFUSED = re.compile(r".*_(create|update|patch|delete|purge|upsert|insert|reorder|revise)$|"
                     r"datastore_search_sql$|.*_(member|collaborator)_.*")


# Routes -----------------------------------------------------------------------------------

router = APIRouter(tags=["CKAN"])

_PARAMETERS = {
    "package_list": [("limit", "integer"), ("offset", "integer")],
    "package_show": [("id", "string")],
    "package_search": [("q", "string"), ("fq", "string"), ("rows", "integer"),
                       ("start", "integer"), ("sort", "string")],
    "resource_show": [("id", "string")],
    "datastore_search": [("resource_id", "string"), ("filters", "string"), ("q", "string"),
                         ("limit", "integer"), ("offset", "integer"), ("sort", "string"),
                         ("fields", "string"), ("include_total", "boolean"),
                         ("records_format", "string")],
    "status_show": [],
    "organization_list": [("all_fields", "boolean"), ("limit", "integer"),
                          ("offset", "integer")],
    "organization_show": [("id", "string"), ("include_datasets", "boolean")],
    "group_list": [("all_fields", "boolean")],
    "tag_list": [("query", "string"), ("all_fields", "boolean")],
    "current_package_list_with_resources": [("limit", "integer"), ("offset", "integer"),
                                            ("page", "integer")],
    "help_show": [("name", "string")],
}
_ENVELOPE = {
    "type": "object",
    "required": ["help", "success"],
    "properties": {"help": {"type": "string"}, "success": {"type": "boolean"},
                   "result": {}, "error": {"type": "object"}},
}
_RESPONSES = {
    str(status): {"description": kind, "content": {"application/json": {"schema": _ENVELOPE}}}
    for kind, status in ERROR_STATUS.items()
}


def _help(request: Request, action: str) -> str:
    return f"{_site(request)}/api/3/action/help_show?name={quote(action, safe='')}"


def _failure(request: Request, action: str, error: CkanError) -> JSONResponse:
    return JSONResponse({"help": _help(request, action), "success": False,
                         "error": error.error()}, status_code=ERROR_STATUS[error.kind])


async def _read_params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query_params)
    raw = await request.body()
    if not raw.strip():
        return dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type:
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a request
        raise CkanError("Bad Request", "JSON Error: the request body is not JSON") from None
    if not isinstance(body, dict):
        raise CkanError("Bad Request", "JSON Error: the request body must be a JSON object")
    return body


async def _run(request: Request, action: str) -> JSONResponse:
    try:
        entry = ACTIONS.get(action)
        if entry is None:
            if REFUSED.match(action):
                raise CkanError("Authorization Error",
                                f"Access denied: {action} is not offered; this API is read-only")
            raise CkanError("Bad Request", f"Bad request - Action name not known: {action}")
        handler, ignored, _ = entry
        params = Params(await _read_params(request), ignored)
        result = await run_in_threadpool(handler, request, params)
    except CkanError as error:
        return _failure(request, action, error)
    except ApiError as exc:
        kind = {"not_found": "Not Found Error", "artifact_unavailable": "Service Unavailable",
                "unavailable": "Service Unavailable"}.get(exc.code, "Validation Error")
        return _failure(request, action, CkanError(kind, exc.message))
    except Exception as exc:
        if is_outage(exc):
            error = outage_error(exc, f"CKAN {action}")
            response = _failure(request, action, CkanError("Service Unavailable", error.message))
            response.headers.update(error.headers or {})
            return response
        log.exception("CKAN action %s failed", action)
        return _failure(request, action,
                        CkanError("Internal Server Error", "internal error; it has been logged"))
    return JSONResponse({"help": _help(request, action), "success": True, "result": result})


def _register(action: str, description: str) -> None:
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        for name, kind in _PARAMETERS[action]
    ]
    body_schema = {
        "type": "object",
        "properties": {name: ({} if kind == "string" else {"type": [kind, "string"]})
                       for name, kind in _PARAMETERS[action]},
    }

    async def get_action(request: Request) -> JSONResponse:
        return await _run(request, action)

    async def post_action(request: Request) -> JSONResponse:
        return await _run(request, action)

    path = f"/api/3/action/{action}"
    common = {"summary": f"CKAN {action}", "description": description,
              "responses": _RESPONSES}
    router.add_api_route(path, get_action, methods=["GET"], operation_id=f"ckan_{action}_get",
                         openapi_extra={"parameters": parameters}, **common)
    router.add_api_route(path, post_action, methods=["POST"], operation_id=f"ckan_{action}_post",
                         openapi_extra={"requestBody": {"required": False, "content": {
                             "application/json": {"schema": body_schema}}}}, **common)


for _name, (_, _, _description) in ACTIONS.items():
    _register(_name, _description)


# ``/api/action/`` is the unversioned spelling CKAN also answers, and the one ckanapi uses.
@router.api_route("/api/action/{action}", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/api/3/action/{action}", methods=["GET", "POST"], include_in_schema=False)
async def other_action(action: str, request: Request) -> JSONResponse:
    return await _run(request, action)


@router.get(
    "/datastore/dump/{resource_id}",
    summary="CKAN DataStore dump: a resource's rows as CSV (or TSV), `_id` first",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                 "text/tab-separated-values": {"schema": {"type": "string"}}},
                     "description": "The rows"},
               **{k: v for k, v in _RESPONSES.items() if k in {"404", "409", "503"}}},
    response_class=StreamingResponse,
)
def datastore_dump(resource_id: str, request: Request) -> Any:
    action = "datastore_dump"
    try:
        params = Params(dict(request.query_params), frozenset())
        bom = params.boolean("bom", False)
        kind = params.text("format") or "csv"
        if kind not in {"csv", "tsv"}:
            raise _invalid("format", "must be csv or tsv")
        params.finish()
        release = _release(request, resource_id, "resource")
        query = build_query(request.app.state.artifacts.facts(release))
    except CkanError as error:
        return _failure(request, action, error)
    except ApiError as exc:
        kind_name = "Not Found Error" if exc.code == "not_found" else "Service Unavailable"
        return _failure(request, action, CkanError(kind_name, exc.message))
    chunks: Iterator[bytes] = csv_chunks(query, encoding="utf-8", bom=bom, row_id=True,
                                         delimiter="," if kind == "csv" else "\t")
    media = "text/csv" if kind == "csv" else "text/tab-separated-values"
    disposition = content_disposition(release.id)
    if kind == "tsv":
        disposition = disposition.replace(".csv", ".tsv")
    return StreamingResponse(chunks, media_type=f"{media}; charset=utf-8",
                             headers={"Content-Disposition": disposition})
