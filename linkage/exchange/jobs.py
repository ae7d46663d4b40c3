"""The exchange's job queue: procrastinate on the exchange's PostgreSQL, workers over HTTP.

A worker runs in its own party's workspace, with its own keys, on another organisation's
host: it never connects to the exchange's database. It registers, heartbeats and claims
through signed requests; the exchange turns each into procrastinate's own operations
(``register_worker``, ``update_heartbeat``, ``fetch_job``, ``finish_job``, ``retry_job``),
so states, attempts and stalled-worker detection are procrastinate's, and one party's
worker can only ever fetch from that party's own queue.

A job is deferred when its inputs are all at the exchange (:data:`TASKS`): ``link`` for the
key manager once every holder's keys file is in, ``combine`` for the agency once the link
map and every payload are. Publication is the upload of the job's output, which the
exchange accepts once per project (a second, different link map is refused), so a worker
killed after uploading and before finishing finds its output there on retry and only
finishes the job.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from procrastinate import PsycopgConnector
from procrastinate import jobs as pjobs
from procrastinate.manager import JobManager
from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, insert, select
from sqlalchemy.engine import make_url

from linkage.exchange.state import ExchangeState, FileRow, metadata
from linkage.keys.project import ProjectManifest

#: How many times a job is tried before it is left failed for a person to look at.
MAX_ATTEMPTS = 3
#: A worker silent for this long is presumed dead and its job goes back to the queue.
STALLED_AFTER = 30.0

workers = Table(
    "exchange_workers", metadata,
    Column("worker_id", BigInteger, primary_key=True),
    Column("party", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("registered_at", BigInteger, nullable=False),
)

job_errors = Table(
    "exchange_job_errors", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("error", Text, nullable=False),
)


@dataclass(frozen=True)
class Task:
    """A stage a worker runs, the role that runs it, and the files it needs."""

    name: str
    role: str
    needs_from_holders: tuple[str, ...]
    needs_other: tuple[str, ...] = ()


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("link", "key_manager", ("keys",)),
    Task("combine", "combiner", ("payload",), ("linkmap",)),
)}


def ready(task: Task, manifest: ProjectManifest, files: Iterable[FileRow]) -> bool:
    """Whether every input of ``task`` is at the exchange."""
    held = {(f.kind, f.sender) for f in files}
    kinds = {f.kind for f in files}
    return all((kind, holder) in held for kind in task.needs_from_holders
               for holder in manifest.spec.holder_ids) and \
        all(kind in kinds for kind in task.needs_other)


def queue_name(role: str, party: str) -> str:
    return f"{role}.{party}"


def party_of_role(manifest: ProjectManifest, role: str) -> str:
    return manifest.spec.key_manager if role == "key_manager" else manifest.spec.combiner


class JobQueue:
    """procrastinate's job manager over the exchange's PostgreSQL database."""

    def __init__(self, database_url: str, state: ExchangeState,
                 stalled_after: float = STALLED_AFTER) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self.connector = PsycopgConnector(conninfo=url.render_as_string(hide_password=False))
        self.manager = JobManager(self.connector)
        self.state = state
        metadata.create_all(state.engine)  # this module's tables join the state's
        self.stalled_after = stalled_after

    async def open(self) -> None:
        await self.connector.open_async()
        row = await self.connector.execute_query_one_async(
            "SELECT to_regclass('procrastinate_jobs') AS present")
        if row["present"] is None:
            from procrastinate.schema import SchemaManager

            await SchemaManager(self.connector).apply_schema_async()

    async def close(self) -> None:
        await self.connector.close_async()

    async def schedule(self, manifest: ProjectManifest) -> list[tuple[int, str]]:
        """Defer every task whose inputs are all in and that has no job yet: (job id,
        the party that runs it) of each."""
        files = self.state.files(manifest.id)
        deferred = []
        for task in TASKS.values():
            if not ready(task, manifest, files):
                continue
            lock = f"{task.name}:{manifest.id}"
            existing = await self.manager.list_jobs_async(lock=lock)
            if any(j.status != pjobs.Status.FAILED.value for j in existing):
                continue
            runner = party_of_role(manifest, task.role)
            job = pjobs.Job(id=None, queue=queue_name(task.role, runner),
                            lock=lock, queueing_lock=lock, task_name=task.name,
                            task_kwargs={"project": manifest.id})
            try:
                deferred.append(((await self.manager.defer_job_async(job)).id, runner))
            except Exception as exc:  # AlreadyEnqueued: a concurrent upload deferred it
                if type(exc).__name__ != "AlreadyEnqueued":
                    raise
        return deferred

    async def register(self, party: str, role: str) -> int:
        worker_id = await self.manager.register_worker()
        with self.state.engine.begin() as db:
            db.execute(insert(workers).values(worker_id=worker_id, party=party, role=role,
                                              registered_at=int(time.time())))
        return worker_id

    def owner(self, worker_id: int) -> tuple[str, str] | None:
        with self.state.engine.connect() as db:
            row = db.execute(select(workers.c.party, workers.c.role).where(
                workers.c.worker_id == worker_id)).first()
        return None if row is None else (row.party, row.role)

    async def alive(self, worker_id: int) -> bool:
        """Whether procrastinate still counts the worker (not pruned for silence)."""
        row = await self.connector.execute_query_one_async(
            "SELECT count(*) AS n FROM procrastinate_workers WHERE id = %(id)s", id=worker_id)
        return bool(row["n"])

    async def heartbeat(self, worker_id: int) -> None:
        await self.manager.update_heartbeat(worker_id)

    async def unregister(self, worker_id: int) -> None:
        await self.manager.unregister_worker(worker_id)

    async def requeue_stalled(self) -> list[pjobs.Job]:
        """Put back the jobs of workers that stopped heartbeating (killed, host lost)."""
        requeued = []
        for job in await self.manager.get_stalled_jobs(
                seconds_since_heartbeat=self.stalled_after):
            try:
                await self._retry_or_fail(job)
            except Exception:
                continue
            self._error(job, "worker stopped answering (killed or lost); job put back")
            requeued.append(job)
        await self.manager.prune_stalled_workers(self.stalled_after)
        return requeued

    async def claim(self, worker_id: int, party: str, role: str) -> pjobs.Job | None:
        """The next job of the party's own queue (call :meth:`requeue_stalled` first)."""
        return await self.manager.fetch_job([queue_name(role, party)], worker_id)

    async def job(self, job_id: int) -> pjobs.Job | None:
        found = list(await self.manager.list_jobs_async(id=job_id))
        return found[0] if found else None

    async def finish(self, job: pjobs.Job, error: str | None) -> str:
        """Mark a job done, or record its error and retry it (until MAX_ATTEMPTS)."""
        if error is None:
            await self.manager.finish_job(job, pjobs.Status.SUCCEEDED, delete_job=False)
            return pjobs.Status.SUCCEEDED.value
        self._error(job, error)
        return await self._retry_or_fail(job)

    async def _retry_or_fail(self, job: pjobs.Job) -> str:
        if job.attempts + 1 >= MAX_ATTEMPTS:
            await self.manager.finish_job(job, pjobs.Status.FAILED, delete_job=False)
            return pjobs.Status.FAILED.value
        await self.manager.retry_job(job, retry_at=dt.datetime.now(dt.UTC))
        return pjobs.Status.TODO.value

    def _error(self, job: pjobs.Job, error: str) -> None:
        with self.state.engine.begin() as db:
            db.execute(insert(job_errors).values(job_id=job.id, attempt=job.attempts + 1,
                                                 at=int(time.time()), error=error[:2000]))

    async def jobs(self, project: str) -> list[dict[str, Any]]:
        """Every job of ``project``: state, attempts and the errors people can read."""
        rows = []
        for task in TASKS:
            for job in await self.manager.list_jobs_async(lock=f"{task}:{project}"):
                with self.state.engine.connect() as db:
                    errors = db.execute(select(job_errors.c.attempt, job_errors.c.at,
                                               job_errors.c.error)
                                        .where(job_errors.c.job_id == job.id)
                                        .order_by(job_errors.c.id)).all()
                rows.append({"id": job.id, "task": job.task_name, "queue": job.queue,
                             "status": job.status, "attempts": job.attempts,
                             "errors": [dict(e._mapping) for e in errors]})
        return sorted(rows, key=lambda r: r["id"])
