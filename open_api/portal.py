"""The public-data-portal face: data.go.kr's request and response conventions.

Path: ``GET /openapi/{release_id}/getList`` (one service per released dataset, ``getList``
its operation). Parameters: ``serviceKey`` (required), ``pageNo`` (from 1), ``numOfRows``
(1 to 1000, default 10), the format as ``type``, ``resultType``, ``_type`` or ``dataType``
(``json`` or ``xml``, default ``xml`` as on the portal), and ``<column>=<value>`` filters.

As on the portal, every answer is HTTP 200 and the outcome is ``response.header.resultCode``:
00 ok, 03 no data, 10 bad parameter, 11 missing parameter, 12 no such service (dataset),
20 access denied (revoked key, or a key without the open-data scope), 22 daily quota
exceeded, 30 key not registered, 31 key expired, 99 unknown error. Every call made with a
valid key counts toward its daily quota (the key's own, else the server's), reset at
midnight KST.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from open_api.errors import ApiError
from open_api.keys import OPEN_DATA_SCOPE, LockedOut, check_secret
from open_api.limits import LimiterUnavailable, kst_day
from open_api.native import visible_release
from open_api.queries import filter_pairs, row_query
from open_api.rows import fetch_page
from open_api.values import json_value
from open_api.xml_rows import XML_DECLARATION, RowWriter, element

log = logging.getLogger(__name__)

MAX_ROWS = 1000
FORMAT_PARAMETERS = ("type", "resultType", "_type", "dataType")
OWN_PARAMETERS = ("serviceKey", "pageNo", "numOfRows", *FORMAT_PARAMETERS)

RESULT_MESSAGES = {
    "00": "NORMAL SERVICE.",
    "03": "NODATA_ERROR",
    "10": "INVALID_REQUEST_PARAMETER_ERROR",
    "11": "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
    "12": "NO_OPENAPI_SERVICE_ERROR",
    "20": "SERVICE_ACCESS_DENIED_ERROR",
    "22": "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
    "30": "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
    "31": "DEADLINE_HAS_EXPIRED_ERROR",
    "99": "UNKNOWN_ERROR",
}
_KEY_STATUS_CODES = {"unknown": "30", "expired": "31", "revoked": "20"}


class PortalRefusal(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class Header(BaseModel):
    resultCode: str = Field(description="00 ok; see the description of the path for the rest.")
    resultMsg: str
    resultDetail: str | None = Field(None, description="What went wrong, for a person.")


class Items(BaseModel):
    item: list[dict[str, Any]]


class Body(BaseModel):
    items: Items
    numOfRows: int
    pageNo: int
    totalCount: int


class Envelope(BaseModel):
    header: Header
    body: Body | None = None


class PortalResponse(BaseModel):
    response: Envelope


router = APIRouter(prefix="/openapi", tags=["public-data portal"])


def _format(request: Request) -> str:
    given = {
        name: request.query_params[name].strip().lower()
        for name in FORMAT_PARAMETERS if name in request.query_params
    }
    chosen = set(given.values())
    if len(chosen) > 1:
        raise PortalRefusal("10", f"conflicting formats: {given}")
    value = chosen.pop() if chosen else "xml"
    if value not in {"json", "xml"}:
        raise PortalRefusal("10", f"format must be json or xml, got {value!r}")
    return value


def _positive(request: Request, name: str, default: int, most: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise PortalRefusal("10", f"{name} must be a whole number, got {text!r}") from None
    if value < 1 or (most is not None and value > most):
        bound = f"between 1 and {most}" if most else "at least 1"
        raise PortalRefusal("10", f"{name} must be {bound}, got {value}")
    return value


def _admit(request: Request) -> None:
    """Check the service key and count the call against its daily quota."""
    secret = request.query_params.get("serviceKey", "")
    if not secret.strip():
        raise PortalRefusal("11", "serviceKey is required")
    verdict = check_secret(request.app.state.keys, secret,
                           request.client.host if request.client else None)
    if isinstance(verdict, LockedOut):
        raise PortalRefusal("22", verdict.message)
    if verdict.status != "valid":
        code = _KEY_STATUS_CODES.get(verdict.status, "30")
        raise PortalRefusal(code, f"the service key is {verdict.status}")
    if OPEN_DATA_SCOPE not in verdict.scopes:
        raise PortalRefusal("20", f"the service key lacks the {OPEN_DATA_SCOPE!r} scope")
    quota = verdict.daily_quota or request.app.state.config.daily_quota
    try:
        decision = request.app.state.limiter.hit(f"portal:{verdict.key_id}", kst_day(), quota)
    except LimiterUnavailable as exc:
        log.error("quota store unavailable: %s", exc)
        raise PortalRefusal("99", "the service is temporarily unavailable") from None
    if not decision.allowed:
        raise PortalRefusal("22", f"daily quota of {quota} calls used; it resets at midnight KST")


def _answer(kind: str, code: str, detail: str | None = None, body: dict | None = None,
            names: list[str] | None = None, rows: list | None = None) -> Response:
    header: dict[str, Any] = {"resultCode": code, "resultMsg": RESULT_MESSAGES[code]}
    if detail:
        header["resultDetail"] = detail
    if kind == "json":
        envelope: dict[str, Any] = {"header": header}
        if body is not None:
            envelope["body"] = {
                "items": {"item": [
                    {n: json_value(v) for n, v in zip(names or [], row, strict=True)}
                    for row in rows or []
                ]},
                **body,
            }
        return JSONResponse({"response": envelope})
    parts = [XML_DECLARATION, "<response><header>"]
    parts += [element(name, value) for name, value in header.items()]
    parts.append("</header>")
    if body is not None:
        writer = RowWriter(names or [], "item")
        parts.append(f"<body><items>{writer.rows(rows or [])}</items>")
        parts += [element(name, value) for name, value in body.items()]
        parts.append("</body>")
    parts.append("</response>")
    return Response("".join(parts), media_type="application/xml")


_DESCRIPTION = __doc__.split("\n\n", 1)[1] + (
    " Any other parameter `<column>=<value>` keeps only rows whose column equals the value."
)


@router.get(
    "/{release_id}/getList",
    response_model=PortalResponse,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}},
                     "description": "The portal envelope, JSON or XML; see resultCode"}},
    summary="A page of a dataset, the public-data portal's way",
    description=_DESCRIPTION,
)
def get_list(
    release_id: str,
    request: Request,
    serviceKey: Annotated[str | None, Query(description="Your service key.")] = None,
    pageNo: Annotated[str | None, Query(description="Page number, from 1.")] = None,
    numOfRows: Annotated[str | None, Query(description="Rows per page, 1 to 1000.")] = None,
    type: Annotated[str | None, Query(description="json or xml (default xml).")] = None,
    resultType: Annotated[str | None, Query(description="Same as type.")] = None,
    _type: Annotated[str | None, Query(alias="_type", description="Same as type.")] = None,
    dataType: Annotated[str | None, Query(description="Same as type.")] = None,
) -> Response:
    kind = "xml"
    try:
        kind = _format(request)
        _admit(request)
        page_no = _positive(request, "pageNo", 1)
        size = _positive(request, "numOfRows", 10, MAX_ROWS)
        try:
            release = visible_release(request, release_id)
            facts = request.app.state.artifacts.facts(release)
            filters = filter_pairs(request.query_params.multi_items(), OWN_PARAMETERS)
            query = row_query(facts, filters, None, "asc")
        except ApiError as exc:
            code = {"not_found": "12", "artifact_unavailable": "99"}.get(exc.code, "10")
            raise PortalRefusal(code, exc.message) from None
        page = fetch_page(query, size, (page_no - 1) * size, request.app.state.tables)
    except PortalRefusal as refusal:
        return _answer(kind, refusal.code, refusal.detail)
    except Exception:
        log.exception("portal request for %r failed", release_id)
        return _answer(kind, "99", "internal error; it has been logged")
    code = "00" if page.rows else "03"
    body = {"numOfRows": size, "pageNo": page_no, "totalCount": page.total}
    return _answer(kind, code, None, body, page.names, page.rows)
