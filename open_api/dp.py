"""``POST /api/v1/dp/query``: differentially private statistics, metered per consumer.

Which datasets answer: an open release recorded in the catalog with form ``dp_aggregate`` and
``parameters["dp_query"] = true`` (written by ``pseudolink dp enable``). Its artifact is a
public manifest of what may be asked (columns, clamping bounds, keys); its parameters point at
the microdata (``data`` and ``data_sha256``), which never leaves the server. Clamping bounds
come from the catalog (``column_bounds`` of the release's dataset), keys from the release.

Who pays: the owner of the API key (``X-API-Key`` or ``Authorization: Bearer``), whose budget
on the release's catalog dataset is charged *before* the noise is drawn; a refused spend
means no answer. Pure epsilon-DP, composed by adding epsilons (the ledger's sum).

Errors: ``unauthorized`` 401 (no key), ``invalid_api_key`` 401 (unknown, expired or revoked),
``forbidden`` 403 (key without the ``dp_query`` scope), ``not_found`` 404, ``invalid_parameter``
400, ``no_budget`` 403, ``budget_exceeded`` 403 (the message states the remaining budget;
403 rather than 429 because waiting does not help: an officer must raise the budget),
``dp_unavailable`` 503.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from anonymize import AnonymizeError
from anonymize.dp import BoundedDataCache, DPQuery, DPSchema, metered_query
from open_api.errors import OpenApiError, error_body
from open_api.keys import KeyRegistry, LockedOut, check_secret

log = logging.getLogger(__name__)

#: The scope an API key needs to spend privacy budget.
DP_SCOPE = "dp_query"

STATUS = {
    "unauthorized": 401,
    "invalid_api_key": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid_parameter": 400,
    "no_budget": 403,
    "budget_exceeded": 403,
    "dp_unavailable": 503,
    "rate_limited": 429,
}


class DPBackend(Protocol):
    """What the endpoint needs from the catalog (``catalog.Catalog`` provides all of it);
    API keys are checked by the app's key registry, like every other face."""

    def get_release(self, release_id: str) -> Any: ...
    def column_bounds(self, dataset_id: str) -> Mapping[str, tuple[float, float]]: ...
    def spend(self, dataset_id: str, consumer: str, epsilon: float, *, query: dict,
              actor: str) -> float: ...


class DPQueryRequest(BaseModel):
    """One differentially private statistic."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=200,
                         description="Id of a dataset open to DP queries")
    statistic: Literal["count", "sum", "mean", "variance", "quantile", "histogram"]
    epsilon: float = Field(gt=0, le=10, description="Privacy loss to spend on this answer")
    column: str | None = Field(default=None, min_length=1, max_length=200)
    by: list[str] = Field(default_factory=list, max_length=4,
                          description="Group by these columns (count and sum)")
    quantile: float = Field(default=0.5, gt=0, lt=1)


class Refused(OpenApiError):
    """A DP query not answered, with its stable code (the CLI prints the message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.code, self.message), status_code=STATUS[self.code])


ERRORS = {status: {"description": "JSON error {\"error\": {\"code\", \"message\"}}"}
          for status in sorted(set(STATUS.values()))}

router = APIRouter(prefix="/api/v1/dp", tags=["differential privacy"])


def api_key(request: Request) -> str:
    key = request.headers.get("x-api-key")
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise Refused("unauthorized", "an API key is required: send it as the X-API-Key "
                                      "header or as Authorization: Bearer <key>")
    return key


def consumer_of(keys: KeyRegistry, key: str, address: str | None = None) -> str:
    check = check_secret(keys, key, address)
    if isinstance(check, LockedOut):
        raise Refused("rate_limited", check.message)
    status = getattr(check, "status", "unknown")
    if status != "valid":
        raise Refused("invalid_api_key", f"API key refused: {status}")
    if DP_SCOPE not in tuple(getattr(check, "scopes", ()) or ()):
        raise Refused("forbidden", f"this API key may not spend privacy budget: it lacks "
                                   f"the {DP_SCOPE!r} scope")
    return str(check.owner)


def _open_to_queries(release: Any) -> bool:
    return release is not None and release.form == "dp_aggregate" \
        and bool(release.parameters.get("dp_query"))


def dp_release(backend: DPBackend, release_id: str) -> Any:
    """The release open to DP queries with this id, or else the one over the catalog
    dataset of that id (so that ``pseudolink dp query --dataset`` takes either)."""
    release = backend.get_release(release_id)
    if _open_to_queries(release):
        return release
    listing = getattr(backend, "open_releases", None)
    candidates = [r for r in (listing() if callable(listing) else [])
                  if r.dataset_id == release_id and _open_to_queries(r)]
    if len(candidates) == 1:
        return candidates[0]
    raise Refused("not_found", f"no dataset {release_id!r} open to DP queries")


def schema_of(backend: DPBackend, release: Any) -> DPSchema:
    params = release.parameters
    bounds = {col: (float(lo), float(hi))
              for col, (lo, hi) in dict(backend.column_bounds(release.dataset_id)).items()}
    return DPSchema(bounds=bounds, keys={k: list(v) for k, v in params.get("keys", {}).items()},
                    privacy_unit=params.get("privacy_unit", "link_id"),
                    max_contributions=int(params.get("max_contributions", 1)))


def answer(backend: DPBackend, cache: BoundedDataCache, release_id: str, query: DPQuery,
           consumer: str, actor: str) -> dict[str, Any]:
    """Resolve, validate, charge, answer: shared by the API and ``pseudolink dp query``."""
    release = dp_release(backend, release_id)
    try:
        schema = schema_of(backend, release)
    except AnonymizeError as exc:
        raise Refused("dp_unavailable", f"dataset {release_id!r}: {exc}") from None
    for column in (*([query.column] if query.column else []), *query.by):
        if column not in release.parameters.get("columns", [column]):
            raise Refused("invalid_parameter", f"column {column!r} is not open to DP queries "
                                               f"on dataset {release_id!r}")
    params = release.parameters
    try:
        data = cache.get(params["data"], schema, params.get("data_sha256"))
    except (AnonymizeError, KeyError) as exc:
        # The reason names the microdata's file, which a consumer must never learn: it goes
        # to the operator's log, the consumer reads only that the dataset is unavailable.
        log.error("DP data of release %s unavailable: %s", release.id, exc)
        raise Refused("dp_unavailable", f"dataset {release_id!r} cannot be queried now; "
                                        "the operator has been told") from None

    def charge(epsilon: float, described: Mapping[str, Any]) -> float:
        try:
            return backend.spend(release.dataset_id, consumer, epsilon,
                                 query={**described, "release": release_id}, actor=actor)
        except Exception as exc:
            if type(exc).__name__ == "BudgetExceeded" or hasattr(exc, "remaining"):
                raise Refused("budget_exceeded", str(exc)) from None
            if "budget" in str(exc):
                raise Refused("no_budget", str(exc)) from None
            raise

    try:
        result, remaining = metered_query(data, query, schema, charge)
    except AnonymizeError as exc:
        raise Refused("invalid_parameter", str(exc)) from None
    return {"dataset": release.id, **result.to_dict(), "budget_remaining": remaining}


@router.post("/query", summary="A differentially private statistic, charged to your budget",
             responses=ERRORS)
def dp_query_endpoint(body: DPQueryRequest, request: Request) -> JSONResponse:
    backend: DPBackend = request.app.state.source
    cache = getattr(request.app.state, "dp_cache", None)
    if cache is None:
        cache = request.app.state.dp_cache = BoundedDataCache()
    try:
        consumer = consumer_of(request.app.state.keys, api_key(request),
                               request.client.host if request.client else None)
        if not all(hasattr(backend, m) for m in ("column_bounds", "spend")):
            raise Refused("dp_unavailable", "this server has no catalog to meter DP queries")
        try:
            query = DPQuery(body.statistic, epsilon=body.epsilon, column=body.column,
                            by=tuple(body.by), quantile=body.quantile)
        except AnonymizeError as exc:
            raise Refused("invalid_parameter", str(exc)) from None
        return JSONResponse(answer(backend, cache, body.dataset, query, consumer,
                                   actor=f"api:{consumer}"))
    except Refused as refused:
        return refused.response()
