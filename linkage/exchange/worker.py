"""A party's worker: claims its jobs from the exchange and runs them in its own workspace.

The key manager's worker pulls the keys files, links, and uploads the link map; the
agency's pulls the link map and payloads and combines, leaving the combined table in its
own workspace. Work happens in a scratch directory and the output is uploaded (or renamed)
whole, so a worker killed at any moment publishes nothing half-made; the exchange puts the
job back when heartbeats stop, and accepts a stage's output once, so the retry publishes
exactly once.

While it waits, a worker fetches its inputs as they land (:func:`prefetch`): the key
manager each holder's keys file while the other holders still prepare, the agency the
payloads while the key manager links. When a job's last input lands, only that one is
left to fetch. A prefetched file is verified (signature, project binding, digest) before
it takes its name, like any pull; the stage that opens it checks its bytes against the
signed digest again before decrypting, and a retried job re-reads what it holds.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from linkage.errors import LinkageError
from linkage.exchange.client import ExchangeClient, ExchangeError
from linkage.keys.project import ProjectManifest
from linkage.scratch import private_dir

Log = Callable[[str], None]
#: record(job, outputs, details): the CLI records the stage and its files in the party's
#: catalog, so that `project close` finds and destroys them.
Record = Callable[[dict, dict[str, Path], dict], None]
COMBINED_NAME = "combined.parquet"
LINK_REPORT_NAME = "link-report.json"
#: The kinds of file each role's jobs read (what its worker fetches ahead of them).
INPUTS = {"key_manager": ("keys",), "combiner": ("linkmap", "payload")}
#: Seconds a claim waits at the exchange for work before asking again.
WAIT = 20.0


def run_job(client: ExchangeClient, job: dict, project_dir: Path, keys_dir: Path,
            passphrase: str, log: Log) -> tuple[dict[str, Path], dict]:
    """Run one claimed job: (files it left in this workspace, details); raises if it fails."""
    import linkage

    project = job["project"]
    manifest = ProjectManifest.load(project_dir)
    inbox = project_dir / "inbox"
    me = client.party.id
    # A retried job re-reads the files it holds: one altered after it was fetched is
    # fetched again rather than refused on every attempt.
    recheck = int(job.get("attempt", 1)) > 1
    if job["task"] == "link":
        status = client.status(project)
        if any(f["kind"] == "linkmap" and f["sender"] == me for f in status["files"]):
            log(f"job {job['id']}: the link map is already at the exchange (an earlier "
                "attempt uploaded it); finishing")
            return {}, {"already_published": True}
        _pull(client, job, manifest, inbox, INPUTS["key_manager"], status["files"], recheck,
              log)
        keys = [inbox / f"{h}.keys.age" for h in manifest.spec.holder_ids]
        # In this workspace's scratch, reaped if the worker is killed: never the shared /tmp.
        with private_dir("worker") as scratch:
            log(f"job {job['id']}: linking {len(keys)} keys files")
            started = time.perf_counter()
            report = linkage.link(manifest, keys, scratch, keys_dir, passphrase, as_party=me)
            log(f"job {job['id']}: linked in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            try:
                pushed = client.push(project, Path(scratch) / "linkmap.age")
            except ExchangeError as exc:
                if exc.code != "already_published":
                    raise
                # Another attempt of this job (put back while this one was slow) won.
                log(f"job {job['id']}: another attempt published the link map first")
                return {}, {"already_published": True}
            shutil.move(Path(scratch) / "link-report.json", project_dir / LINK_REPORT_NAME)
        log(f"job {job['id']}: link map sent to {pushed.recipient} in "
            f"{time.perf_counter() - started:.1f} s")
        return ({**{f"keys {p.name}": p for p in keys},
                 "report": project_dir / LINK_REPORT_NAME},
                {"links": report.links, "linkmap_sha256": pushed.sha256})
    elif job["task"] == "combine":
        _pull(client, job, manifest, inbox, INPUTS["combiner"], None, recheck, log)
        payloads = [inbox / f"{h}.payload.age" for h in manifest.spec.holder_ids]
        log(f"job {job['id']}: combining {len(payloads)} payloads")
        out = project_dir / COMBINED_NAME
        started = time.perf_counter()
        # combine writes to a temporary name and renames: a killed worker leaves no table.
        report = linkage.combine(manifest, inbox / "linkmap.age", payloads, out, keys_dir,
                                 passphrase, as_party=me)
        log(f"job {job['id']}: combined {report.rows} rows into {out} in "
            f"{time.perf_counter() - started:.1f} s")
        return ({"linkmap": inbox / "linkmap.age", "combined": out,
                 **{f"payload {p.name}": p for p in payloads}}, {"rows": report.rows})
    else:
        raise LinkageError(f"unknown task {job['task']!r}")


def _pull(client: ExchangeClient, job: dict, manifest: ProjectManifest, inbox: Path,
          kinds: tuple[str, ...], rows: list[dict] | None, recheck: bool, log: Log) -> None:
    started = time.perf_counter()
    pulled = client.pull(job["project"], manifest, inbox, kinds=kinds, rows=rows,
                         recheck=recheck)
    if pulled:
        size = sum(p.stat().st_size for p in pulled)
        log(f"job {job['id']}: fetched {', '.join(p.name for p in pulled)} ({size:,} "
            f"bytes) in {time.perf_counter() - started:.1f} s")


def prefetch(client: ExchangeClient, role: str, project_dir_of: Callable[[str], Path],
             log: Log = print, refused: set[str] | None = None) -> list[Path]:
    """Fetch every file at the exchange that this party's jobs will read and that its
    workspace does not hold yet, each verified before it takes its name; the files
    fetched. A file that fails is reported, its digest added to ``refused`` (not tried
    again here), and left to the job, which fails on it with the same message."""
    refused = set() if refused is None else refused
    manifests: dict[str, ProjectManifest | None] = {}
    fetched: list[Path] = []
    for row in client.inbox():
        project = row["project"]
        if row["kind"] not in INPUTS[role] or row["sha256"] in refused:
            continue
        if project not in manifests:
            try:
                manifests[project] = ProjectManifest.load(project_dir_of(project))
            except (LinkageError, OSError):
                manifests[project] = None  # not a project of this workspace
        if manifests[project] is None:
            continue
        started = time.perf_counter()
        try:
            pulled = client.pull(project, manifests[project], project_dir_of(project) /
                                 "inbox", rows=[row])
        except LinkageError as exc:
            refused.add(row["sha256"])
            log(f"project {project}: {row['name']} not fetched ahead of its job: {exc}")
            continue
        for path in pulled:
            log(f"project {project}: fetched {path.name} ahead of its job "
                f"({path.stat().st_size:,} bytes in {time.perf_counter() - started:.1f} s)")
        fetched += pulled
    return fetched


def work(client: ExchangeClient, role: str, project_dir_of: Callable[[str], Path],
         keys_dir: Path, passphrase: str, *, once: bool = False, poll: float = 2.0,
         wait: float = WAIT, heartbeat: float = 5.0, log: Log = print,
         record: Record | None = None) -> int:
    """Claim and run jobs until stopped (or, with ``once``, until the queue is empty).

    Returns how many jobs finished. A heartbeat thread keeps the claim alive while a job
    runs; if this process dies, the heartbeats stop and the exchange requeues the job.
    Between jobs a claim waits at the exchange up to ``wait`` seconds and returns as soon
    as a job or a file arrives; the worker then fetches any new inputs (:func:`prefetch`).
    ``poll``: the pause before asking again after the exchange could not be reached.
    """
    worker_id = client.register_worker(role)
    log(f"worker {worker_id} for {client.party.id} ({role}) at {client.url}")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat):
            try:
                client.heartbeat(worker_id)
            except LinkageError as exc:
                log(f"heartbeat failed: {exc}")

    threading.Thread(target=beat, daemon=True, name="heartbeat").start()
    done = 0
    # None: this worker has not heard from the exchange since its last job, so the next
    # claim returns at once (and the worker looks for new inputs) rather than waiting.
    since: int | None = None
    refused: set[str] = set()
    try:
        while True:
            try:
                if not once:
                    prefetch(client, role, project_dir_of, log, refused)
                job, since = client.wait_for_work(
                    worker_id, 0.0 if once or since is None else wait, since)
            except ExchangeError as exc:
                if exc.status == 410:  # presumed dead after missed heartbeats
                    worker_id = client.register_worker(role)
                    log(f"registered again as worker {worker_id}")
                    continue
                if exc.status is not None and exc.status < 500:
                    raise
                # The exchange restarting or unreachable: wait and ask again.
                log(f"claim failed, retrying: {exc}")
                time.sleep(poll)
                continue
            if job is None:
                if once:
                    return done
                if since is None:  # an exchange that cannot hold a claim open
                    time.sleep(poll)
                continue
            log(f"job {job['id']}: {job['task']} of project {job['project']}, attempt "
                f"{job['attempt']}")
            try:
                outputs, details = run_job(client, job, project_dir_of(job["project"]),
                                           keys_dir, passphrase, log)
                if record is not None:
                    record(job, outputs, details)
            except Exception as exc:  # every failure is reported, readable, and retried
                error = f"{type(exc).__name__}: {exc}"
            else:
                error = None
            try:
                state = client.finish(job["id"], worker_id, error)
            except ExchangeError as exc:
                # Put back after missed heartbeats: another attempt owns the job now.
                log(f"job {job['id']}: not finished here ({exc})")
                continue
            done += error is None
            log(f"job {job['id']}: {state}" + (f" after error: {error}" if error else ""))
    finally:
        stop.set()
        with contextlib.suppress(LinkageError):
            client.unregister_worker(worker_id)
