"""``/healthz`` (alive) and ``/readyz`` (its database answers) on the exchange, as on
every pseudolink server (issue 24); neither needs a signature nor says more than that."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from linkage.exchange.state import ExchangeState


def add_health_routes(app: FastAPI, state: ExchangeState) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            state.projects()
        except Exception:  # any failure to read is "not ready"; the operator runs doctor
            return JSONResponse({"status": "not_ready"}, status_code=503,
                                headers={"Retry-After": "30"})
        return JSONResponse({"status": "ready"})
