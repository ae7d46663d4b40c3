"""A secure room's start and stop, recorded as stages of the projects whose data it holds.

The hub calls ``RoomStages.start`` under the researcher it authenticated (their own
room, on their active secure-room grants) and ``RoomStages.stop`` when the server goes.
Each writes ``room.start`` / ``room.stop`` on the researcher and, for every linkage
project of the grants, ``stage.room_start`` / ``stage.room_stop`` on the project with the
extracts' digests (never their contents), in one transaction: ``pseudolink project
status`` then lists the room sessions among the project's stages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import audit as audit_log
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.models import AccessRequest, AuditEntry, Dataset
from catalog.roles import PermissionRefused, require

#: The actor of a stop nobody asked for in person (a revoked grant, the hub shutting down).
ROOM_SYSTEM = "system:room"


class _Storage(Protocol):
    def _write(self) -> Any: ...

    def _audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None: ...


def _grants(session: Session, user: str) -> list[AccessRequest]:
    now = utcnow()
    return [g for g in session.scalars(select(AccessRequest).where(
        AccessRequest.state == "active", AccessRequest.release_form == "secure_room")
        .order_by(AccessRequest.id))
        if (g.requester_id == user or user in g.researchers)
        and (g.ends_at is None or g.ends_at > now)]


def grant_project(session: Session, grant: AccessRequest) -> str | None:
    """The linkage project a grant's data belongs to: the request's, else its dataset's."""
    if grant.project_id is not None:
        return grant.project_id
    dataset = session.get(Dataset, grant.dataset_id)
    return dataset.project_id if dataset is not None else None


def _open_projects(session: Session, user: str) -> list[str]:
    """Projects whose last recorded room stage for ``user`` is a start."""
    state: dict[str, str] = {}
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("stage.room_start", "stage.room_stop")))
            .order_by(AuditEntry.seq)):
        if entry.details.get("researcher") == user:
            state[entry.target] = entry.action
    return [p for p, action in state.items() if action == "stage.room_start"]


class RoomStages:
    """Room starts and stops in the catalog of ``storage``."""

    def __init__(self, storage: _Storage) -> None:
        self._storage = storage

    def start(self, user: str, *, actor: str,
              datasets: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Record that ``user``'s room started; returns the projects it was recorded for.

        A researcher starts only their own room, and only on an active grant.
        """
        try:
            with self._storage._write() as session:
                person = require(session, actor, "stage.room_start")
                if person.role == "researcher" and actor != user:
                    raise PermissionRefused(f"stage.room_start refused: {actor!r} may start "
                                            f"only their own room, not {user!r}'s",
                                            actor=actor, action="stage.room_start")
                grants = _grants(session, user)
                if not grants:
                    raise CatalogError(f"{user!r} has no active secure-room grant: no room "
                                       "starts")
                by_project: dict[str, list[AccessRequest]] = {}
                for grant in grants:
                    project_id = grant_project(session, grant)
                    if project_id is not None:
                        by_project.setdefault(project_id, []).append(grant)
                audit_log.append_entry(session, actor, "room.start", user, {
                    "datasets": {k: list(v) for k, v in (datasets or {}).items()},
                    "grants": [g.id for g in grants], "projects": sorted(by_project)})
                for project_id, mine in sorted(by_project.items()):
                    files = []
                    for dataset_id in dict.fromkeys(g.dataset_id for g in mine):
                        dataset = session.get(Dataset, dataset_id)
                        if dataset is not None:
                            files.append({"kind": "room_extract", "path": dataset.path,
                                          "sha256": dataset.sha256})
                    audit_log.append_entry(session, actor, "stage.room_start", project_id, {
                        "party": "room", "researcher": user,
                        "grants": [g.id for g in mine], "files": files})
                return sorted(by_project)
        except PermissionRefused as refused:
            self._storage._audit_refusal(refused.actor, user, refused)
            raise

    def stop(self, user: str, *, actor: str, reason: str) -> list[str]:
        """Record that ``user``'s room stopped, on every project it was started for."""
        try:
            with self._storage._write() as session:
                if actor != ROOM_SYSTEM:
                    person = require(session, actor, "stage.room_stop")
                    if person.role == "researcher" and actor != user:
                        raise PermissionRefused(f"stage.room_stop refused: {actor!r} may stop "
                                                f"only their own room, not {user!r}'s",
                                                actor=actor, action="stage.room_stop")
                projects = _open_projects(session, user)
                audit_log.append_entry(session, actor, "room.stop", user,
                                       {"reason": reason, "projects": projects})
                for project_id in projects:
                    audit_log.append_entry(session, actor, "stage.room_stop", project_id, {
                        "party": "room", "researcher": user, "reason": reason,
                        "files": []})
                return projects
        except PermissionRefused as refused:
            self._storage._audit_refusal(refused.actor, user, refused)
            raise
