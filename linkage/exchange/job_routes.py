"""The workers' endpoints: register, heartbeat, claim from the party's own queue, finish.

Every call is signed by the worker's party; a worker id is bound to the party that
registered it, so no party can heartbeat, claim with or finish another party's worker.
A claim may wait (``wait`` seconds) until a job or a file for the party arrives, so an
idle worker notices its inputs at once instead of at its next poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from linkage.exchange.changes import MAX_WAIT, Changes
from linkage.exchange.jobs import TASKS, JobQueue
from linkage.exchange.refusals import Audit, Refusal


def add_job_routes(app: FastAPI, jobs: JobQueue, authenticate_party: Callable[[Request], str],
                   audit: Audit, changes: Changes | None = None) -> None:
    """Workers register, heartbeat, claim from their own party's queue, and finish."""

    async def worker_of(request: Request, worker_id: int) -> tuple[str, str]:
        party = await run_in_threadpool(authenticate_party, request)
        owner = jobs.owner(worker_id)
        if owner is None or owner[0] != party:
            raise Refusal(403, "not_your_worker", f"worker {worker_id} was not registered by "
                          f"'{party}'", actor=party, action="exchange.job.refused")
        return owner

    @app.post("/v1/workers", status_code=201)
    async def register_worker(role: str, request: Request) -> dict[str, int]:
        party = await run_in_threadpool(authenticate_party, request)
        if role not in {t.role for t in TASKS.values()}:
            raise Refusal(400, "bad_role", f"no jobs run as {role!r}", actor=party)
        worker_id = await jobs.register(party, role)
        audit(party, "exchange.worker.registered", f"/v1/workers/{worker_id}", {"role": role})
        return {"worker_id": worker_id}

    @app.post("/v1/workers/{worker_id}/heartbeat", status_code=204)
    async def heartbeat(worker_id: int, request: Request) -> Response:
        await worker_of(request, worker_id)
        await jobs.heartbeat(worker_id)
        return Response(status_code=204)

    @app.delete("/v1/workers/{worker_id}", status_code=204)
    async def unregister(worker_id: int, request: Request) -> Response:
        await worker_of(request, worker_id)
        await jobs.unregister(worker_id)
        return Response(status_code=204)

    changes = changes or Changes()

    @app.post("/v1/workers/{worker_id}/claim")
    async def claim(worker_id: int, request: Request, wait: float = 0.0,
                    since: int | None = None) -> Response:
        """The party's next job; with ``wait``, held open (at most MAX_WAIT s) until a job
        or a file for the party arrives. 204 when none: its ``Exchange-Changes`` header
        is the ``since`` of the next claim, so nothing landing in between is missed."""
        party, role = await worker_of(request, worker_id)
        if not await jobs.alive(worker_id):
            raise Refusal(410, "worker_gone", f"worker {worker_id} was presumed dead (no "
                          "heartbeat) and its jobs put back; register again", actor=party,
                          action="exchange.job.refused")
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT)
        baseline = changes.seen(party) if since is None else since
        while True:
            seen = changes.seen(party)
            for job in await jobs.requeue_stalled():
                audit("exchange", "exchange.job.requeued", f"/v1/jobs/{job.id}",
                      {"project": job.task_kwargs.get("project"),
                       "attempts": job.attempts + 1})
            job = await jobs.claim(worker_id, party, role)
            left = deadline - time.monotonic()
            if job is not None or seen != baseline or left <= 0:
                break
            # Woken by an arrival, or in time to put back a stalled job.
            await changes.wait(party, baseline, min(left, max(jobs.stalled_after / 2, 0.5)))
        if job is None:
            return Response(status_code=204, headers={"Exchange-Changes": str(seen)})
        audit(party, "exchange.job.started", f"/v1/jobs/{job.id}",
              {"task": job.task_name, "project": job.task_kwargs.get("project"),
               "attempt": job.attempts + 1})
        return JSONResponse({"id": job.id, "task": job.task_name,
                             "project": job.task_kwargs.get("project"),
                             "attempt": job.attempts + 1})

    @app.post("/v1/jobs/{job_id}/finish")
    async def finish(job_id: int, worker: int, request: Request,
                     error: str | None = None) -> dict[str, Any]:
        party, _ = await worker_of(request, worker)
        job = await jobs.job(job_id)
        if job is None or job.worker_id != worker or job.status != "doing":
            raise Refusal(409, "not_running", f"job {job_id} is not running on worker "
                          f"{worker} (put back after a missed heartbeat, or finished)",
                          actor=party, action="exchange.job.refused")
        status = await jobs.finish(job, error)
        audit(party, f"exchange.job.{status}", f"/v1/jobs/{job_id}",
              {"task": job.task_name, "project": job.task_kwargs.get("project"),
               "attempt": job.attempts + 1, **({"error": error[:500]} if error else {})})
        return {"id": job_id, "status": status}
