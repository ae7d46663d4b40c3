"""A linkage project's life in the catalog: its stages, its files, its close and retention.

Each stage a party runs (``stage.prepare``, ``stage.link``...) is an action of the role
matrix, so a key manager cannot record a prepare nor a holder a link. The stage, the
files it wrote (path and digest, never contents) and the actor go in one transaction
with their audit entry. ``destroy_project`` shreds every recorded file, wherever it was
written, and audits a destruction certificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import artefacts as files
from catalog import audit as audit_log
from catalog.artefacts import ArtefactInfo, artefact_info
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.models import LINKAGE_MODES, PURPOSES, Artefact, AuditEntry, Project, User
from catalog.roles import PermissionRefused, require
from catalog.storage import Storage, json_doc, one_of

#: The actor of a stage in a workspace whose catalog has no users: the party whose secret
#: key (unlocked by its passphrase) the stage used. Refused once the catalog has users.
PARTY_ACTOR = "party:"

#: Stages the catalog records, each an action ``stage.<name>`` of the role matrix.
STAGES = ("create", "accept", "prepare", "precheck", "link", "extract", "review", "combine",
          "release", "room_start", "room_stop", "airlock_decision")


@dataclass(frozen=True)
class ProjectInfo:
    """What ``pseudolink project status`` shows: stages run, files held, retention."""

    id: str
    purpose: str
    mode: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    retain_until: datetime | None
    holders: list[str]
    stages: list[dict[str, Any]]
    artefacts: list[ArtefactInfo]


def _project(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise CatalogError(f"no project {project_id!r} in the catalog")
    return project


def check_actor(session: Session, actor: str, action: str) -> None:
    """A user the role matrix lets take ``action``, or a party key where nobody can log in.

    A party's own workspace may hold no users at all (its catalog records only its own
    files); there the party that unlocked its key is the actor. Once a catalog has an
    active user, a person must be logged in and hold the right role.
    """
    if not actor.startswith(PARTY_ACTOR):
        require(session, actor, action)
        return
    if session.scalar(select(User.id).where(User.active.is_(True)).limit(1)) is not None:
        raise PermissionRefused(f"{action} refused: this catalog has users, so a person must "
                                f"be logged in (`pseudolink login`); {actor!r} is a party key, "
                                "not a user", actor=actor, action=action)


def _holders(spec: Mapping[str, Any]) -> list[str]:
    return [h.get("id", "?") for h in spec.get("holders", []) if isinstance(h, Mapping)]


class ProjectService:
    """Linkage projects: their record, stages, files, close, retention and destruction."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def record_project(self, project_id: str, *, purpose: str, mode: str, spec: dict,
                       actor: str) -> None:
        """Create or update a linkage project; a closed project stays closed."""
        one_of(purpose, PURPOSES, "purpose")
        one_of(mode, LINKAGE_MODES, "linkage mode")
        spec_doc = json_doc(spec, f"spec of project {project_id!r}")
        with self._storage.change(actor, "project.record", project_id,
                                  permission="project.record") as change:
            project = change.session.get(Project, project_id)
            if project is None:
                change.session.add(Project(id=project_id, purpose=purpose, mode=mode,
                                           spec=spec_doc))
            elif project.status == "closed":
                raise CatalogError(f"project {project_id!r} was closed on "
                                   f"{project.closed_at:%Y-%m-%d}: its key is destroyed and it "
                                   "cannot be recorded again; choose a new project id")
            else:
                project.purpose, project.mode, project.spec = purpose, mode, spec_doc
                change.action = "project.update"
            change.details = {"purpose": purpose, "mode": mode}

    def close_project(self, project_id: str, *, actor: str) -> None:
        """Mark a project closed (its files are destroyed by ``destroy_project``)."""
        with self._storage.change(actor, "project.close", project_id,
                                  permission="project.close") as change:
            project = _project(change.session, project_id)
            if project.status == "closed":
                raise CatalogError(f"project {project_id!r} is already closed")
            project.status, project.closed_at = "closed", utcnow()

    def ensure_project(self, project_id: str, *, purpose: str, mode: str,
                       spec: Mapping[str, Any], actor: str,
                       permission: str = "project.record") -> bool:
        """Record a project this workspace has not seen (a holder's, from its manifest).

        Returns whether it was recorded now; a known project is left as it is.
        ``permission`` is the action the actor must hold: closing a project recorded
        nowhere yet needs only ``project.close``.
        """
        if purpose not in PURPOSES or mode not in LINKAGE_MODES:
            raise CatalogError(f"project {project_id!r}: purpose {purpose!r} or mode "
                               f"{mode!r} unknown")
        with self._storage.guarded(project_id) as session:
            if session.get(Project, project_id) is not None:
                return False
            check_actor(session, actor, permission)
            session.add(Project(id=project_id, purpose=purpose, mode=mode,
                                spec=jsonable(dict(spec))))
            session.flush()
            audit_log.append_entry(session, actor, "project.record", project_id,
                                   {"purpose": purpose, "mode": mode})
            return True

    def record_stage(self, project_id: str, stage: str, *, actor: str, root: str | Path,
                     holder: str, outputs: Mapping[str, str | Path] | None = None,
                     details: Mapping[str, Any] | None = None) -> list[ArtefactInfo]:
        """Record that ``actor`` ran ``stage`` as party ``holder``, and the files it wrote.

        ``outputs`` maps a kind (``payload``, ``linkmap``...) to a path; ``root`` is the
        workspace root, inside which paths are kept relative.
        """
        if stage not in STAGES:
            raise CatalogError(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")
        described = files.describe(outputs or {}, root)
        extra = jsonable(dict(details or {}))
        action = f"stage.{stage}"
        with self._storage.guarded(project_id) as session:
            check_actor(session, actor, action)
            project = _project(session, project_id)
            if project.status == "closed":
                raise CatalogError(f"project {project_id!r} is closed: no stage may be "
                                   "recorded for it")
            files.upsert(session, project_id, stage, holder, actor, described, utcnow())
            session.flush()
            audit_log.append_entry(session, actor, action, project_id,
                                   {"party": holder, "files": described, **extra})
            rows = session.scalars(select(Artefact).where(
                Artefact.project_id == project_id,
                Artefact.path.in_([d["path"] for d in described]))).all()
            return [artefact_info(r) for r in rows]

    def artefacts(self, project_id: str, *, destroyed: bool = False) -> list[ArtefactInfo]:
        """The files recorded for a project, oldest first; destroyed ones only if asked."""
        query = select(Artefact).where(Artefact.project_id == project_id)
        if not destroyed:
            query = query.where(Artefact.destroyed_at.is_(None))
        with self._storage.read() as session:
            return [artefact_info(r) for r in session.scalars(query.order_by(Artefact.id))]

    def set_retention(self, project_id: str, until: datetime, *, actor: str) -> None:
        """After ``until`` the sweep destroys the project's files, closed or not."""
        if until.tzinfo is None:
            raise CatalogError(f"project {project_id!r}: the retention date needs a time zone")
        with self._storage.guarded(project_id) as session:
            require(session, actor, "project.retention")
            project = _project(session, project_id)
            previous = project.retain_until
            project.retain_until = until
            session.flush()
            audit_log.append_entry(session, actor, "project.retention", project_id,
                                   {"retain_until": until, "previous": previous})

    def destroy_project(self, project_id: str, *, actor: str, root: str | Path,
                        reason: str = "project closed") -> dict[str, Any]:
        """Shred every recorded file of the project, close it, audit the certificate.

        Returns the certificate: what was destroyed (kinds, paths, digests), when, by whom.
        """
        with self._storage.guarded(project_id) as session:
            check_actor(session, actor, "project.close")
            _project(session, project_id)
        with self._storage.read() as session:
            pending = list(session.scalars(select(Artefact).where(
                Artefact.project_id == project_id, Artefact.destroyed_at.is_(None))
                .order_by(Artefact.id)))
        # Files go first: if the catalog then fails, a rerun finds them absent and says so.
        lines = files.destroy_files(pending, root)
        now = utcnow()
        with self._storage.guarded(project_id) as session:
            check_actor(session, actor, "project.close")
            project = _project(session, project_id)
            for row in session.scalars(select(Artefact).where(
                    Artefact.id.in_([r.id for r in pending]))):
                row.destroyed_at, row.destroyed_by = now, actor
            was_open = project.status == "open"
            if was_open:
                project.status, project.closed_at = "closed", now
            certificate = {"project": project_id, "reason": reason, "destroyed_at": now,
                           "destroyed_by": actor, "files": lines,
                           "absent": sum(1 for line in lines if line["state"] == "absent")}
            session.flush()
            if was_open:
                audit_log.append_entry(session, actor, "project.close", project_id,
                                       {"reason": reason})
            audit_log.append_entry(session, actor, "project.destruction_certificate",
                                   project_id, certificate)
        return jsonable(certificate)

    def list_projects(self) -> list[ProjectInfo]:
        with self._storage.read() as session:
            ids = list(session.scalars(select(Project.id).order_by(Project.created_at,
                                                                   Project.id)))
        return [self.project_status(project_id) for project_id in ids]

    def project_status(self, project_id: str) -> ProjectInfo:
        """Parties, stages run (from the audit log), files held and retention."""
        with self._storage.read() as session:
            project = _project(session, project_id)
            entries = session.scalars(select(AuditEntry).where(
                AuditEntry.target == project_id,
                AuditEntry.action.like("stage.%")).order_by(AuditEntry.seq))
            stages = [{"stage": e.action.removeprefix("stage."), "actor": e.actor,
                       "party": e.details.get("party"), "at": e.ts,
                       "files": len(e.details.get("files", []))} for e in entries]
            rows = session.scalars(select(Artefact).where(Artefact.project_id == project_id)
                                   .order_by(Artefact.id))
            return ProjectInfo(
                id=project.id, purpose=project.purpose, mode=project.mode,
                status=project.status, created_at=project.created_at,
                closed_at=project.closed_at, retain_until=project.retain_until,
                holders=_holders(project.spec), stages=stages,
                artefacts=[artefact_info(r) for r in rows])
