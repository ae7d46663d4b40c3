"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: catalog reachable and
at the newest schema), for a load balancer or a service manager (issue 24).

Neither needs an API key nor counts against a rate limit, and neither says anything a
consumer could not learn anyway: the problems name the catalog's state, never a path.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    source = request.app.state.source
    check = getattr(source, "readiness", None)
    try:
        problems = list(check()) if callable(check) else []
    except Exception as exc:  # any failure to ask is itself "not ready"
        problems = [f"the release source cannot be asked ({type(exc).__name__})"]
    if problems:
        # A consumer sees only that it is not ready; the operator reads `pseudolink doctor`.
        return JSONResponse({"status": "not_ready", "problems": len(problems)},
                            status_code=503, headers={"Retry-After": "30"})
    return JSONResponse({"status": "ready"})
