"""The setup endpoints: every party fetches the registered manifest and the holders'
acceptances; a holder sends its own acceptance and key share (:mod:`linkage.exchange.setup`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from linkage.errors import LinkageError
from linkage.exchange.refusals import Audit, Refusal
from linkage.exchange.routes import setup_route_error
from linkage.exchange.setup import (
    MAX_SETUP_BYTES,
    SetupStore,
    check_acceptance,
    parse_acceptance,
)
from linkage.exchange.state import ExchangeState

REFUSED = "exchange.setup.refused"


def add_setup_routes(app: FastAPI, state: ExchangeState, authenticate: Callable[..., Any],
                     audit: Audit) -> None:
    """``GET /v1/projects/{p}/setup`` and ``PUT /v1/projects/{p}/setup/acceptances/{h}``."""
    store = SetupStore(state)

    @app.get("/v1/projects/{project_id}/setup")
    def setup(project_id: str, request: Request) -> dict[str, Any]:
        """The registered manifest and every acceptance of its key version so far."""
        caller = authenticate(request, project_id)
        held = store.current(caller.manifest)
        audit(caller.party, "exchange.setup.download", request.url.path,
              {"acceptances": [a["acceptance"]["holder"] for a in held]})
        return {"manifest": caller.manifest.to_dict(), "acceptances": held}

    @app.put("/v1/projects/{project_id}/setup/acceptances/{holder}", status_code=201)
    async def put_acceptance(project_id: str, holder: str, request: Request) -> Response:
        """A holder's signed acceptance with its sealed share; idempotent, once per version."""
        caller = await run_in_threadpool(authenticate, request, project_id)
        party, manifest = caller.party, caller.manifest
        why = setup_route_error("acceptance", party, holder, manifest)
        if why:
            raise Refusal(403, "not_allowed", why, actor=party, action=REFUSED,
                          extra={"kind": "acceptance"})
        body = await _body(request, party)
        try:
            acceptance, share = parse_acceptance(json.loads(body))
            if acceptance.holder != holder:
                raise LinkageError(f"the acceptance is signed for '{acceptance.holder}', not "
                                   f"'{holder}'")
            check_acceptance(manifest, acceptance, share)
        except (ValueError, LinkageError) as exc:
            raise Refusal(422, "acceptance_refused", str(exc), actor=party, action=REFUSED,
                          extra={"kind": "acceptance"}) from None
        location = request.url.path
        held = store.get(project_id, holder, manifest.key_version)
        if held is not None:
            if held["acceptance"] == acceptance.to_dict():
                return Response(status_code=303, headers={"Location": location})
            raise Refusal(409, "already_published", f"'{holder}' has already sent another "
                          f"acceptance of key version {manifest.key_version}; it accepts once",
                          actor=party, action=REFUSED, extra={"kind": "acceptance"})
        try:
            await run_in_threadpool(store.add, acceptance, share)
        except IntegrityError:  # the same acceptance, sent twice at once: the other won
            return Response(status_code=303, headers={"Location": location})
        audit(party, "exchange.setup.accepted", location,
              {"kind": "acceptance", "key_version": manifest.key_version,
               "digest": acceptance.digest})
        return JSONResponse({"holder": holder, "key_version": manifest.key_version},
                            status_code=201, headers={"Location": location})


async def _body(request: Request, party: str) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SETUP_BYTES:
            raise Refusal(413, "too_large", f"an acceptance is at most {MAX_SETUP_BYTES} "
                          "bytes", actor=party, action=REFUSED)
    return body
