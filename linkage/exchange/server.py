"""The exchange: an HTTP service that holds sealed envelopes it cannot open.

Parties sign every request with their Ed25519 keys (:mod:`linkage.exchange.signing`). An
upload is accepted only from a party of the project, only of a kind its role may send
(:mod:`linkage.exchange.routes`), only once its signed header and ciphertext verify
(:mod:`linkage.exchange.checks`); it is streamed to a staging file and published under its
SHA-256 only then. A file is handed only to its recipient. Every accepted or refused
upload and every download is reported to ``audit`` under the party's id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from linkage.errors import LinkageError
from linkage.exchange.changes import Changes
from linkage.exchange.checks import check_envelope, decode_header, encode_header
from linkage.exchange.health import add_health_routes
from linkage.exchange.refusals import Audit, Refusal
from linkage.exchange.routes import file_name, route_error
from linkage.exchange.setup_routes import add_setup_routes
from linkage.exchange.signing import MAX_AGE, Message, SignatureRefused, verify_request
from linkage.exchange.state import ExchangeState, FileRow
from linkage.exchange.store import Staging, Storage
from linkage.keys.project import ProjectManifest

if TYPE_CHECKING:
    from linkage.exchange.jobs import JobQueue

DIGEST = re.compile(r"[0-9a-f]{64}")
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
#: A single PUT body larger than this must come in Content-Range chunks.
DEFAULT_MAX_FILE = 64 << 30


@dataclass(frozen=True)
class Caller:
    party: str
    manifest: ProjectManifest


def create_app(state: ExchangeState, storage: Storage, staging: Staging, audit: Audit, *,
               max_file_bytes: int = DEFAULT_MAX_FILE, jobs: JobQueue | None = None
               ) -> FastAPI:
    """The exchange's FastAPI app over its state, envelope storage and staging area.

    With ``jobs`` (PostgreSQL only), uploads that complete a stage's inputs defer its job,
    and workers claim and finish jobs through the ``/v1/workers`` endpoints; a claim may
    wait until a job or a file for its party arrives (:mod:`linkage.exchange.changes`).
    """
    changes = Changes()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Parse the registered manifests once before serving: the spec's parser imports
        # pandas (seconds), which would otherwise fall on the first party's request.
        await run_in_threadpool(state.projects)
        if jobs is not None:
            await jobs.open()
        try:
            yield
        finally:
            if jobs is not None:
                await jobs.close()

    #: Staging files a request is writing now, and running digests of partial uploads.
    writing: set[Path] = set()
    hashing: dict[Path, tuple[int, Any]] = {}
    app = FastAPI(title="pseudolink exchange", version="1", lifespan=lifespan,
                  description="Sealed envelopes between the parties of linkage projects.")

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        details = {"status": exc.status, "reason": exc.message, "method": request.method,
                   **(exc.extra or {})}
        audit(exc.actor, exc.action, _target(request), details)
        return JSONResponse({"error": exc.code, "message": exc.message, **(exc.extra or {})},
                            status_code=exc.status)

    def authenticate(request: Request, project_id: str) -> Caller:
        manifest = state.project(project_id)
        if manifest is None:
            raise Refusal(404, "unknown_project",
                          f"project {project_id!r} is not registered at this exchange")

        def lookup(party_id: str):
            party = manifest.parties.get(party_id)
            return None if party is None else party.verifier()

        return Caller(_signed(request, lookup), manifest)

    def authenticate_party(request: Request) -> str:
        """For requests of no one project (a worker's): the key every registered project
        gives the party; a party whose projects disagree on its key is refused."""
        def lookup(party_id: str):
            keys = {m.parties[party_id].ed25519_public for m in state.projects()
                    if party_id in m.parties}
            return None if len(keys) != 1 else \
                next(m.parties[party_id] for m in state.projects()
                     if party_id in m.parties).verifier()

        return _signed(request, lookup)

    def _signed(request: Request, lookup) -> str:
        message = Message(request.method, str(request.url), dict(request.headers.items()))
        try:
            signed = verify_request(message, lookup)
        except SignatureRefused as exc:
            raise Refusal(401, "bad_signature", str(exc),
                          extra={"claimed_party": exc.party} if exc.party else None) from None
        if state.seen(signed.party, signed.nonce, signed.created,
                      int(MAX_AGE.total_seconds())):
            raise Refusal(401, "replayed", "replayed request refused: this signature's nonce "
                          "was already used; sign every request afresh", actor=signed.party)
        return signed.party

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    add_health_routes(app, state)

    @app.get("/v1/projects/{project_id}")
    async def project_status(project_id: str, request: Request) -> dict[str, Any]:
        """Parties, roles, the files exchanged so far (metadata only) and the jobs."""
        caller = await run_in_threadpool(authenticate, request, project_id)
        manifest = caller.manifest
        return {
            "jobs": [] if jobs is None else await jobs.jobs(project_id),
            "project": manifest.id, "binding": manifest.binding,
            "key_version": manifest.key_version, "status": manifest.status,
            "you": caller.party,
            "parties": {pid: p.role for pid, p in sorted(manifest.parties.items())},
            "files": [{**row.public(), "name": file_name(row.kind, row.sender, row.recipient)}
                      for row in state.files(project_id)],
        }

    @app.get("/v1/projects/{project_id}/uploads/{digest}")
    def upload_status(project_id: str, digest: str, request: Request) -> dict[str, Any]:
        """How much of the caller's upload of ``digest`` the exchange holds: resume there."""
        caller = authenticate(request, project_id)
        _check_digest(digest, caller.party)
        return {"published": state.file(project_id, digest) is not None,
                "offset": staging.size(project_id, caller.party, digest)}

    @app.put("/v1/projects/{project_id}/files/{digest}", status_code=201)
    async def put_file(project_id: str, digest: str, request: Request) -> Response:
        """Upload an envelope (whole, or a ``Content-Range`` chunk of it); idempotent."""
        caller = await run_in_threadpool(authenticate, request, project_id)
        party = caller.party
        _check_digest(digest, party)
        raw, header = _header(request, party)
        why = _upload_error(header, party, project_id, digest, caller.manifest)
        if why:
            raise Refusal(403, "not_allowed", why, actor=party,
                          action="exchange.upload.refused", extra={"kind": header.kind})
        if header.ciphertext_size > max_file_bytes:
            raise Refusal(413, "too_large", f"{header.ciphertext_size} bytes is more than the "
                          f"{max_file_bytes} bytes this exchange accepts", actor=party,
                          action="exchange.upload.refused", extra={"kind": header.kind})
        location = f"/v1/projects/{project_id}/files/{digest}"
        if state.file(project_id, digest) is not None:
            audit(party, "exchange.upload.duplicate", _target(request),
                  {"kind": header.kind, "status": 303})
            return Response(status_code=303, headers={"Location": location})
        if _published(state, project_id, header):
            raise Refusal(409, "already_published", f"'{party}' has already sent a {header.kind} "
                          f"file to '{header.recipient}' under key version "
                          f"{header.key_version}; a stage's output is published once",
                          actor=party, action="exchange.upload.refused",
                          extra={"kind": header.kind})
        start, end, total = _range(request, header.ciphertext_size, party)
        if start > staging.size(project_id, party, digest):
            held = staging.size(project_id, party, digest)
            raise Refusal(409, "offset_mismatch", f"this chunk starts at {start}; the exchange "
                          f"holds {held} bytes of the upload: resume there", actor=party,
                          action="exchange.upload.refused", extra={"offset": held})
        path = staging.path(project_id, party, digest)
        if path in writing:
            raise Refusal(409, "upload_busy", "another request is sending this file now; ask "
                          "for the offset and resume when it ends", actor=party,
                          action="exchange.upload.refused")
        # The digest is computed as the bytes arrive, carried from chunk to chunk, so a
        # multi-GB upload is not read back to check it; after a restart or an out-of-order
        # chunk the file is read once instead.
        held, running = hashing.pop(path, (0, None))
        running = running if held == start and running else \
            (hashlib.sha256() if start == 0 else None)
        writing.add(path)
        try:
            received = await _receive(request, staging.open_at(project_id, party, digest,
                                                               start),
                                      end - start + 1, party, running)
        finally:
            writing.discard(path)
        if start + received < total:
            if running is not None:
                hashing[path] = (start + received, running)
            return JSONResponse({"offset": start + received}, status_code=202)
        seen = None if running is None else running.hexdigest()
        try:
            await run_in_threadpool(check_envelope, path, raw, caller.manifest, header, seen)
        except LinkageError as exc:
            staging.discard(project_id, party, digest)
            reason = str(exc).replace(str(path), f"upload {digest[:12]}")
            raise Refusal(422, "envelope_refused", reason, actor=party,
                          action="exchange.upload.refused", extra={"kind": header.kind}
                          ) from None
        await run_in_threadpool(storage.publish, project_id, digest, path)
        row = FileRow(project_id, digest, header.kind, header.sender, header.recipient,
                      header.ciphertext_size, raw.decode("utf-8"), _now())
        if not state.add_file(row):  # a concurrent upload of the same file won
            return Response(status_code=303, headers={"Location": location})
        audit(party, "exchange.upload.accepted", _target(request),
              {"kind": header.kind, "recipient": header.recipient,
               "size": header.ciphertext_size, "sha256": digest})
        woken = {header.recipient}
        if jobs is not None:
            for job_id, runner in await jobs.schedule(caller.manifest):
                audit(party, "exchange.job.deferred", f"/v1/jobs/{job_id}",
                      {"project": project_id, "state": "todo"})
                woken.add(runner)
        # The recipient's worker fetches the file now (or runs the job it completed).
        await changes.mark(woken)
        return JSONResponse(row.public(), status_code=201, headers={"Location": location})

    @app.get("/v1/projects/{project_id}/files/{digest}")
    def get_file(project_id: str, digest: str, request: Request) -> Response:
        """Download an envelope: only its recipient may."""
        caller = authenticate(request, project_id)
        _check_digest(digest, caller.party)
        row = state.file(project_id, digest)
        if row is None:
            raise Refusal(404, "no_such_file", f"project {project_id} holds no file "
                          f"{digest}", actor=caller.party, action="exchange.download.refused")
        if row.recipient != caller.party:
            raise Refusal(403, "not_recipient", f"this {row.kind} file is addressed to "
                          f"'{row.recipient}', not to '{caller.party}'", actor=caller.party,
                          action="exchange.download.refused", extra={"kind": row.kind})
        audit(caller.party, "exchange.download", _target(request),
              {"kind": row.kind, "sender": row.sender, "size": row.size})
        return StreamingResponse(
            storage.read(project_id, digest), media_type="application/octet-stream",
            headers={"Content-Length": str(row.size),
                     "Envelope-Header": encode_header(row.header.encode("utf-8")),
                     "Content-Disposition": f'attachment; filename="'
                                            f'{file_name(row.kind, row.sender, row.recipient)}"'})

    @app.get("/v1/inbox")
    def inbox(request: Request) -> dict[str, Any]:
        """Every file addressed to the caller, in every project (metadata only): what a
        worker fetches ahead of its jobs."""
        party = authenticate_party(request)
        return {"you": party,
                "files": [{**row.public(), "project": row.project,
                           "name": file_name(row.kind, row.sender, row.recipient)}
                          for row in state.files_for(party)]}

    add_setup_routes(app, state, authenticate, audit)
    if jobs is not None:
        from linkage.exchange.job_routes import add_job_routes

        add_job_routes(app, jobs, authenticate_party, audit, changes)
    return app


def _published(state: ExchangeState, project_id: str, header) -> bool:
    for row in state.files(project_id):
        if (row.kind, row.sender, row.recipient) == (header.kind, header.sender,
                                                     header.recipient) and \
                json.loads(row.header).get("key_version") == header.key_version:
            return True
    return False


def _check_digest(digest: str, party: str) -> None:
    if not DIGEST.fullmatch(digest):
        raise Refusal(400, "bad_digest", "a file is named by its SHA-256: 64 lowercase hex "
                      "digits", actor=party)


def _header(request: Request, party: str):
    field = request.headers.get("envelope-header")
    if not field:
        raise Refusal(400, "no_header", "an upload carries its envelope's signed header in "
                      "the Envelope-Header field", actor=party,
                      action="exchange.upload.refused")
    try:
        return decode_header(field)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, "bad_header", f"Envelope-Header is not an envelope header ({exc})",
                      actor=party, action="exchange.upload.refused") from None


def _upload_error(header, party: str, project_id: str, digest: str,
                  manifest: ProjectManifest) -> str | None:
    if header.sender != party:
        return (f"'{party}' uploads a file whose header names '{header.sender}' as sender: "
                "a party uploads only envelopes it sealed itself")
    if header.project != project_id:
        return f"the file belongs to project '{header.project}', not {project_id}"
    if header.ciphertext_sha256 != digest:
        return "the URL's SHA-256 differs from the one in the file's signed header"
    return route_error(header.kind, header.sender, header.recipient, manifest)


def _range(request: Request, size: int, party: str) -> tuple[int, int, int]:
    """(first byte, last byte, total) of this request's body within the file."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise Refusal(411, "length_required", "an upload states its Content-Length",
                      actor=party, action="exchange.upload.refused")
    field = request.headers.get("content-range")
    if field is None:
        start, end, total = 0, size - 1, size
    else:
        match = _RANGE.fullmatch(field.strip())
        if match is None:
            raise Refusal(400, "bad_range", "Content-Range must read 'bytes FIRST-LAST/TOTAL'",
                          actor=party, action="exchange.upload.refused")
        start, end, total = (int(g) for g in match.groups())
    if total != size or not 0 <= start <= end < total or int(length) != end - start + 1:
        raise Refusal(400, "bad_range", f"the body ({length} bytes, range {field or 'whole'}) "
                      f"does not fit the {size}-byte file its header declares", actor=party,
                      action="exchange.upload.refused")
    return start, end, total


async def _receive(request: Request, out, expected: int, party: str, digest=None) -> int:
    """Stream the body to ``out`` (and into ``digest``, a hashlib object, if given); a
    disconnect keeps what arrived, for a resumed upload."""
    received = 0
    try:
        with out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > expected:
                    raise Refusal(413, "too_large", "the body is longer than its "
                                  "Content-Length", actor=party,
                                  action="exchange.upload.refused")
                out.write(chunk)
                if digest is not None:
                    digest.update(chunk)
    except ClientDisconnect:
        pass
    if received != expected:
        raise Refusal(400, "incomplete", f"received {received} of {expected} bytes; ask "
                      "for the offset and resume", actor=party,
                      action="exchange.upload.refused")
    return received


def _target(request: Request) -> str:
    return request.url.path


def _now() -> int:
    import time

    return int(time.time())
