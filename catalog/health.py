"""Is this catalog fit to serve, and is every file it recorded still whole?

The servers' ``/readyz`` asks the first (reachable, schema at the newest migration);
``pseudolink doctor`` and ``pseudolink restore`` ask both. Each finding is one line that
names the thing and says how to fix it, so that an operator can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from catalog.artefacts import local_path, sha256_file
from catalog.database import current_revision, head_revision, redacted
from catalog.models import Artefact, Release
from catalog.storage import Storage

WORKSPACE_EVENTS = ("workspace.backup", "workspace.restore")


@dataclass(frozen=True)
class RecordedFile:
    """A file the catalog vouches for: a live release's artifact or a project's artefact."""

    what: str  # "release R" or "artefact of project P (stage, kind)"
    path: str  # as stored: relative to the workspace root when inside it
    sha256: str


def schema_problem(engine: Engine) -> str | None:
    """Why the catalog cannot serve now (unreachable, or not at the newest schema), or None."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        return (f"catalog database {redacted(engine.url)} cannot be reached "
                f"({type(exc).__name__}): check that it runs and the URL is right")
    head = head_revision()
    if current != head:
        return (f"catalog schema is at {current or 'no revision'}, not {head}: run "
                "`pseudolink init --workdir W` to migrate it")
    return None


class HealthService:
    """What ``/readyz`` and ``doctor`` ask of the catalog, and its workspace events."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _engine(self) -> Engine:
        return self._storage.engine

    @property
    def root(self) -> Path | None:
        return self._storage.root

    def readiness(self) -> list[str]:
        """Problems that make the catalog unfit to serve now; empty when ready."""
        problem = schema_problem(self._engine)
        return [] if problem is None else [problem]

    def recorded_files(self) -> list[RecordedFile]:
        """Every file whose digest the catalog holds and whose destruction it has not recorded.

        Revoked or expired releases are left out once their artifact is gone: the sweep
        destroys those on purpose; so is a release whose file a project's close destroyed
        (a take-out's copy here), since its destruction certificate records it.
        """
        found: list[RecordedFile] = []
        with self._engine.connect() as connection:
            destroyed = set(connection.scalars(select(Artefact.path).where(
                Artefact.destroyed_at.is_not(None))))
            for row in connection.execute(select(Release.id, Release.artifact, Release.checksum,
                                                 Release.revoked_at)):
                if (row.revoked_at is not None or row.artifact in destroyed) \
                        and not self._exists(row.artifact):
                    continue
                found.append(RecordedFile(f"release {row.id}", row.artifact, row.checksum))
            for art in connection.execute(select(Artefact.project_id, Artefact.stage,
                                                 Artefact.kind, Artefact.path, Artefact.sha256)
                                          .where(Artefact.destroyed_at.is_(None))):
                found.append(RecordedFile(
                    f"artefact of project {art.project_id} ({art.stage}, {art.kind})",
                    art.path, art.sha256))
        return found

    def file_problems(self) -> list[str]:
        """Each recorded file that is missing or whose bytes differ from its digest."""
        problems = []
        for item in self.recorded_files():
            path = self._path(item.path)
            if not path.is_file():
                hint = "restore it from a backup (`pseudolink restore`), or revoke what needs it"
                legacy = self._legacy(item.path)
                if legacy is not None:
                    hint = (f"it was recorded relative to the directory a command ran in, "
                            f"before paths belonged to the workspace; the file is at "
                            f"{legacy}: record it again (publish the release again)")
                problems.append(f"{item.what}: {item.path} is missing; {hint}")
                continue
            digest = sha256_file(path)
            if digest != item.sha256.lower():
                problems.append(f"{item.what}: {item.path} has changed (sha256 {digest[:12]}…, "
                                f"recorded {item.sha256[:12]}…); restore the recorded file "
                                "from a backup, or publish it again as a new release")
        return problems

    def record_workspace_event(self, action: str, target: str, details: dict[str, Any], *,
                               actor: str) -> None:
        """Audit a backup (an administrator's, by the role matrix) or a restore.

        A restore is recorded under the operating-system account that ran it: whoever
        holds an archive's age identity and the host can restore it, so a role check
        there would only pretend to stop them.
        """
        if action not in WORKSPACE_EVENTS:
            raise ValueError(f"not a workspace event: {action}")
        permission = action if action == "workspace.backup" else None
        with self._storage.change(actor, action, target, permission=permission) as change:
            change.details = dict(details)

    def _legacy(self, stored: str) -> str | None:
        """Where a path recorded as ``<old workdir>/rest`` now lies, if it does."""
        parts = Path(stored).parts
        if self.root is None or Path(stored).is_absolute() or len(parts) < 2:
            return None
        candidate = Path(*parts[1:])
        return candidate.as_posix() if (self.root / candidate).is_file() else None

    def _path(self, stored: str) -> Path:
        return Path(stored) if self.root is None else local_path(stored, self.root)

    def _exists(self, stored: str) -> bool:
        return self._path(stored).is_file()
