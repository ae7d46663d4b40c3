"""Airlock requests in the catalog: files' digests, votes, decisions, one transaction each.

``AirlockRecords`` is the service ``analysis_env.Airlock`` stores through (the room's
own file handling, automatic checks and outbox stay there). Every change checks the
actor against the role matrix, writes its rows and appends its audit entry in one
transaction, so a vote never exists without its entry, nor an entry without its vote.
The vote that gives every file its second review also moves the request
(``catalog.airlock_states.AIRLOCK``) under that checker's name, and records the decision
as the ``airlock_decision`` stage of the author's project, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from catalog import audit as audit_log
from catalog.airlock_states import AIRLOCK, REVIEWS_NEEDED
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.models import (
    AIRLOCK_DECISIONS,
    AccessRequest,
    AirlockFileRow,
    AirlockRequestRow,
    AirlockVoteRow,
)
from catalog.roles import PermissionRefused, require
from catalog.room_stages import grant_project


@dataclass(frozen=True)
class AirlockVoteInfo:
    checker: str
    decision: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class AirlockFileInfo:
    name: str
    sha256: str
    kind: str
    size: int
    checks: list[dict[str, Any]]
    #: Every vote on this version of the file (the airlock decides who may see them).
    votes: list[AirlockVoteInfo]

    @property
    def held(self) -> bool:
        return any(not c.get("ok", False) for c in self.checks)


@dataclass(frozen=True)
class AirlockInfo:
    id: str
    author: str
    project_id: str | None
    state: str
    context: str
    controls: str
    files: list[AirlockFileInfo]
    created_at: datetime
    updated_at: datetime


class _Storage(Protocol):
    """What the service needs of ``catalog.Catalog``: its transactions."""

    def _write(self) -> Any: ...

    def _read(self) -> Any: ...

    def _audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None: ...


def _info(row: AirlockRequestRow) -> AirlockInfo:
    files = []
    for f in row.files:
        votes = [AirlockVoteInfo(v.checker, v.decision, v.reason, v.created_at)
                 for v in row.votes if v.name == f.name and v.sha256 == f.sha256]
        files.append(AirlockFileInfo(f.name, f.sha256, f.kind, f.size, list(f.checks), votes))
    return AirlockInfo(row.id, row.author, row.project_id, row.state, row.context,
                       row.controls, files, row.created_at, row.updated_at)


def _file_row(request_id: str, file: Mapping[str, Any]) -> AirlockFileRow:
    return AirlockFileRow(request_id=request_id, name=str(file["name"]),
                          sha256=str(file["sha256"]), kind=str(file["kind"]),
                          checks=jsonable({"checks": list(file["checks"])})["checks"],
                          size=int(file["size"]))


def _room_project(session: Session, author: str) -> str | None:
    """The project of the author's active room grant, when exactly one project is named."""
    grants = session.scalars(select(AccessRequest).where(
        AccessRequest.state == "active", AccessRequest.release_form == "secure_room"))
    projects = {grant_project(session, g) for g in grants
                if g.requester_id == author or author in g.researchers} - {None}
    return projects.pop() if len(projects) == 1 else None


class AirlockRecords:
    """Airlock requests, files, votes and decisions in the catalog of ``storage``."""

    def __init__(self, storage: _Storage) -> None:
        self._storage = storage

    @contextmanager
    def _changing(self, request_id: str | None, target: str) -> Iterator[
            tuple[Session, AirlockRequestRow | None]]:
        """A writing transaction on one request (locked); role refusals are audited."""
        try:
            with self._storage._write() as session:
                row = None
                if request_id is not None:
                    row = session.execute(select(AirlockRequestRow).where(
                        AirlockRequestRow.id == request_id).with_for_update()).scalar_one_or_none()
                    if row is None:
                        raise CatalogError(f"no airlock request {request_id!r}")
                yield session, row
        except PermissionRefused as refused:
            self._storage._audit_refusal(refused.actor, target, refused)
            raise
        except DBAPIError as exc:
            # Whatever the database refused (the audit append included), nothing committed.
            raise CatalogError(f"airlock request {target!r}: the catalog refused the change, "
                               f"and nothing of it was recorded: {exc.orig}") from None

    # -- the author's side -------------------------------------------------------------

    def submit(self, request_id: str, *, author: str, context: str, controls: str,
               files: Sequence[Mapping[str, Any]],
               project_id: str | None = None) -> AirlockInfo:
        """Record a request and its files' digests and check verdicts, submitted."""
        if not files:
            raise CatalogError(f"airlock request {request_id!r} names no file")
        with self._changing(None, request_id) as (session, _):
            require(session, author, "airlock.request")
            if session.get(AirlockRequestRow, request_id) is not None:
                raise CatalogError(f"airlock request {request_id!r} already exists")
            project = project_id or _room_project(session, author)
            session.add(AirlockRequestRow(id=request_id, author=author, project_id=project,
                                          state=AIRLOCK.initial, context=context,
                                          controls=controls))
            session.flush()
            rows = [_file_row(request_id, f) for f in files]
            session.add_all(rows)
            session.flush()
            audit_log.append_entry(session, author, "airlock.request", request_id, {
                "project": project, "files": {r.name: r.sha256 for r in rows},
                "held": [r.name for r in rows if any(not c.get("ok") for c in r.checks)]})
        return self.get(request_id)

    def replace_file(self, request_id: str, file: Mapping[str, Any], *,
                     actor: str) -> AirlockInfo:
        """The author's edited version of a file of a returned request (votes restart)."""
        with self._changing(request_id, request_id) as (session, row):
            require(session, actor, "airlock.request")
            if actor != row.author:
                raise PermissionRefused(f"only {row.author!r}, who wrote airlock request "
                                        f"{request_id!r}, may change it", actor=actor,
                                        action="airlock.request")
            if row.state != "returned":
                raise CatalogError(f"airlock request {request_id!r} is {row.state}; files "
                                   "change only after a checker returns it")
            old = session.get(AirlockFileRow, (request_id, str(file["name"])))
            previous = old.sha256 if old is not None else None
            if old is not None:
                session.delete(old)
                session.flush()
            session.add(_file_row(request_id, file))
            row.updated_at = utcnow()
            session.flush()
            audit_log.append_entry(session, actor, "airlock.update_file", request_id,
                                   {"file": file["name"], "sha256": file["sha256"],
                                    "previous": previous})
        return self.get(request_id)

    def move(self, request_id: str, target: str, *, actor: str) -> AirlockInfo:
        """The author's own moves: resubmit a returned request, or withdraw one."""
        with self._changing(request_id, request_id) as (session, row):
            AIRLOCK.apply(session, row, target, actor, owner=row.author)
        return self.get(request_id)

    # -- the checkers' side ------------------------------------------------------------

    def vote(self, request_id: str, decision: str, *, actor: str, reason: str,
             files: Sequence[str] | None = None) -> AirlockInfo:
        """One checker's vote on some or all files; the last review decides the request.

        The vote, its audit entry and, when it completes the reviews, the decision, its
        audit entry and the project's ``stage.airlock_decision`` commit together.
        """
        if decision not in AIRLOCK_DECISIONS:
            raise CatalogError(f"decision {decision!r} is not one of "
                               f"{', '.join(AIRLOCK_DECISIONS)}")
        with self._changing(request_id, request_id) as (session, row):
            require(session, actor, "airlock.vote")
            if actor == row.author:
                raise PermissionRefused(f"{actor!r} wrote airlock request {request_id!r} and "
                                        "may not check it", actor=actor, action="airlock.vote")
            if row.state != "submitted":
                raise CatalogError(f"airlock request {request_id!r} is {row.state}; votes "
                                   "are taken only while it is submitted")
            chosen = [f for f in row.files if files is None or f.name in files]
            missing = sorted(set(files or ()) - {f.name for f in chosen})
            if missing:
                raise CatalogError(f"airlock request {request_id!r} has no file "
                                   f"{', '.join(missing)}")
            for file in chosen:
                if decision == "approve" and any(not c.get("ok") for c in file.checks):
                    failed = "; ".join(c.get("reason", "") for c in file.checks
                                       if not c.get("ok"))
                    raise CatalogError(f"{file.name} is held by the automatic checks "
                                       f"({failed}); return or reject it")
                if any(v.checker == actor and v.name == file.name and v.sha256 == file.sha256
                       for v in row.votes):
                    raise CatalogError(f"{actor!r} already voted on {file.name} "
                                       "(this version)")
                row.votes.append(AirlockVoteRow(request_id=request_id, name=file.name,
                                                sha256=file.sha256, checker=actor,
                                                decision=decision, reason=reason))
            row.updated_at = utcnow()
            session.flush()
            audit_log.append_entry(session, actor, "airlock.vote", request_id, {
                "decision": decision, "reason": reason,
                "files": {f.name: f.sha256 for f in chosen}})
            self._decide_if_complete(session, row, actor)
        return self.get(request_id)

    def _decide_if_complete(self, session: Session, row: AirlockRequestRow,
                            actor: str) -> None:
        outcomes = []
        for file in row.files:
            decisions = [v.decision for v in row.votes
                         if v.name == file.name and v.sha256 == file.sha256]
            if len({v.checker for v in row.votes if v.name == file.name
                    and v.sha256 == file.sha256}) < REVIEWS_NEEDED:
                return
            outcomes.extend(decisions)
        target = ("returned" if "return" in outcomes else
                  "rejected" if "reject" in outcomes else "approved")
        digests = [{"kind": "airlock_output", "path": f.name, "sha256": f.sha256}
                   for f in row.files]
        step = AIRLOCK.apply(session, row, target, actor, owner=row.author,
                             details={"votes": len(outcomes)})
        if row.project_id is not None:
            # The decision is a stage of the project (the move checked the same right).
            audit_log.append_entry(session, actor, "stage.airlock_decision", row.project_id, {
                "party": "airlock", "airlock_request": row.id, "decision": step.target,
                "author": row.author, "files": digests})

    def release(self, request_id: str, *, actor: str) -> AirlockInfo:
        """Mark an approved request released (the airlock has staged its files)."""
        with self._changing(request_id, request_id) as (session, row):
            AIRLOCK.apply(session, row, "released", actor, owner=row.author, details={
                "author": row.author, "files": {f.name: f.sha256 for f in row.files}})
        return self.get(request_id)

    # -- upgrading -----------------------------------------------------------------------

    def adopt(self, request: Mapping[str, Any], files: Sequence[Mapping[str, Any]],
              votes: Sequence[Mapping[str, Any]], *, actor: str, source: str) -> bool:
        """Carry one request of a pre-0006 ``airlock.db`` into the catalog, as it stood.

        Its votes were never committed with their audit entries; the import is, with one
        ``airlock.imported`` entry naming what came in. Returns False if already here.
        """
        request_id = str(request["id"])
        with self._changing(None, request_id) as (session, _):
            if session.get(AirlockRequestRow, request_id) is not None:
                return False
            if request["state"] not in AIRLOCK.states:
                raise CatalogError(f"{source}: request {request_id!r} has unknown state "
                                   f"{request['state']!r}")
            session.add(AirlockRequestRow(
                id=request_id, author=request["author"], project_id=None,
                state=request["state"], context=request["context"],
                controls=request["controls"],
                created_at=datetime.fromisoformat(request["created_at"]),
                updated_at=datetime.fromisoformat(request["updated_at"])))
            session.flush()
            session.add_all([_file_row(request_id, f) for f in files])
            session.add_all([AirlockVoteRow(
                request_id=request_id, name=v["name"], sha256=v["sha256"],
                checker=v["checker"], decision=v["decision"], reason=v["reason"],
                created_at=datetime.fromisoformat(v["at"])) for v in votes])
            session.flush()
            audit_log.append_entry(session, actor, "airlock.imported", request_id, {
                "source": source, "state": request["state"], "author": request["author"],
                "files": {f["name"]: f["sha256"] for f in files},
                "votes": [{"checker": v["checker"], "decision": v["decision"],
                           "file": v["name"], "sha256": v["sha256"]} for v in votes]})
            return True

    # -- reading ------------------------------------------------------------------------

    @staticmethod
    def _query() -> Any:
        return select(AirlockRequestRow).options(selectinload(AirlockRequestRow.files),
                                                 selectinload(AirlockRequestRow.votes))

    def get(self, request_id: str) -> AirlockInfo:
        with self._storage._read() as session:
            row = session.scalars(self._query().where(
                AirlockRequestRow.id == request_id)).one_or_none()
            if row is None:
                raise CatalogError(f"no airlock request {request_id!r}")
            return _info(row)

    def list(self, *, author: str | None = None) -> list[AirlockInfo]:
        """Every request, oldest first; or only ``author``'s."""
        query = self._query().order_by(AirlockRequestRow.created_at, AirlockRequestRow.id)
        if author is not None:
            query = query.where(AirlockRequestRow.author == author)
        with self._storage._read() as session:
            return [_info(r) for r in session.scalars(query)]

    def stamp(self) -> tuple[int, datetime | None]:
        """Changes when any request changes: (count, latest update), for pollers."""
        with self._storage._read() as session:
            count, latest = session.execute(select(
                func.count(AirlockRequestRow.id), func.max(AirlockRequestRow.updated_at))).one()
            return int(count), latest
