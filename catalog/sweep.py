"""The scheduled sweep: destroy what is past its expiry, revocation or retention.

Run daily by ``pseudolink catalog sweep`` (cron or a systemd timer, docs/operator-guide.md).
It expires lapsed accesses, shreds the artifact of every release that expired or was
revoked (room extracts and take-outs included), and destroys every file of a project
whose retention date has passed, each with its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from catalog import artefacts as files
from catalog import audit as audit_log
from catalog.coltypes import utcnow
from catalog.models import Artefact, Project, Release
from catalog.projects import ProjectService
from catalog.storage import Storage


@dataclass
class SweepReport:
    expired_requests: list[str] = field(default_factory=list)
    destroyed_releases: list[str] = field(default_factory=list)
    retention_certificates: list[dict[str, Any]] = field(default_factory=list)


def _artifact_path(artifact: str, root: str | Path) -> Path | None:
    """Where a release's artifact lies: absolute as recorded, else under the workspace root,
    else relative to the working directory (as the open-data API reads it)."""
    candidates = [Path(artifact)] if Path(artifact).is_absolute() else [
        files.local_path(artifact, root), Path(artifact)]
    return next((p for p in candidates if p.is_file()), None)


class SweepService:
    """The sweep; it expires requests and destroys projects through their services."""

    def __init__(self, storage: Storage, requests: Any, projects: ProjectService) -> None:
        self._storage = storage
        # The request service (``expire_due``); typed loosely, as it is built last.
        self._requests = requests
        self._projects = projects

    def sweep(self, *, actor: str, root: str | Path,
              now: datetime | None = None) -> SweepReport:
        """Destroy everything past expiry, revocation or retention; ``actor`` runs it."""
        now = now or utcnow()
        self._storage.require(actor, "sweep.run")  # audits a refusal
        report = SweepReport(expired_requests=self._requests.expire_due(now=now))
        with self._storage.read() as session:
            due = list(session.scalars(select(Release).where(
                Release.destroyed_at.is_(None),
                or_(Release.revoked_at.is_not(None), Release.expires_at <= now))
                .order_by(Release.id)))
        for release in due:
            path = _artifact_path(release.artifact, root)
            found = path is not None
            matched = found and files.sha256_file(path) == release.checksum
            if path is not None:
                files.shred(path)
            with self._storage.write() as session:
                row = session.get(Release, release.id)
                row.destroyed_at = now
                session.flush()
                audit_log.append_entry(session, actor, "release.destroy", release.id, {
                    "form": release.form, "artifact": release.artifact,
                    "checksum": release.checksum, "found": found,
                    "checksum_matched": matched, "path": str(path) if path else None,
                    "why": "revoked" if release.revoked_at is not None else "expired"})
            report.destroyed_releases.append(release.id)
        with self._storage.read() as session:
            lapsed = list(session.scalars(select(Project.id).where(
                Project.retain_until <= now,
                Project.id.in_(select(Artefact.project_id).where(
                    Artefact.destroyed_at.is_(None)))).order_by(Project.id)))
        for project_id in lapsed:
            report.retention_certificates.append(self._projects.destroy_project(
                project_id, actor=actor, root=root, reason="retention period ended"))
        return report
