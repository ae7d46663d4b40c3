"""Releases in the four forms, their revocation, and what consumers may see: the releases
service. ``ReleaseInfo`` is what a release looks like to its consumers (the open-data API,
the analysis room); only open-data forms are ever served (``OPEN_FORMS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from catalog.artefacts import local_path
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.models import RELEASE_FORMS, Dataset, Release
from catalog.storage import Storage, json_doc, one_of


@dataclass(frozen=True)
class ReleaseInfo:
    id: str
    dataset_id: str
    title: str
    description: str
    form: str
    artifact: str
    checksum: str
    parameters: dict[str, Any]
    columns: dict[str, str]
    created_at: datetime
    expires_at: datetime | None
    is_open: bool


def release_info(release: Release, root: str | Path | None = None) -> ReleaseInfo:
    """The release as consumers see it; with the workspace ``root``, ``artifact`` is where
    the file lies on this machine now (stored paths are relative to the workspace)."""
    return ReleaseInfo(
        id=release.id,
        dataset_id=release.dataset_id,
        title=release.title,
        description=release.description,
        form=release.form,
        artifact=release.artifact if root is None else str(local_path(release.artifact, root)),
        checksum=release.checksum,
        parameters=dict(release.parameters),
        columns={column.name: column.classification for column in release.dataset.columns},
        created_at=release.created_at,
        expires_at=release.expires_at,
        is_open=release.is_open,
    )


#: Release forms that are open data (DESIGN 10); a take-out or room extract never is.
OPEN_FORMS = ("dp_aggregate", "synthetic")


def open_releases_query(now: datetime) -> Select[tuple[Release]]:
    """Releases a consumer may see now: open data, open, not revoked, not expired; newest first."""
    return (
        select(Release)
        .where(Release.form.in_(OPEN_FORMS), Release.is_open.is_(True),
               Release.revoked_at.is_(None),
               or_(Release.expires_at.is_(None), Release.expires_at > now))
        .options(selectinload(Release.dataset).selectinload(Dataset.columns))
        .order_by(Release.created_at.desc(), Release.id)
    )


class ReleaseService:
    """Recording and revoking releases (officers), and the open releases consumers see."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def record_release(self, release_id: str, *, dataset_id: str, form: str, title: str,
                       artifact: str, checksum: str, parameters: dict, actor: str,
                       description: str = "", is_open: bool = True,
                       expires_at: datetime | None = None) -> ReleaseInfo:
        """Approve a release in one of the four forms; the same id again replaces it."""
        one_of(form, RELEASE_FORMS, f"release {release_id!r}: form")
        if expires_at is not None and expires_at.tzinfo is None:
            raise CatalogError(f"release {release_id!r}: expires_at needs a time zone")
        parameters_doc = json_doc(parameters, f"parameters of release {release_id!r}")
        with self._storage.change(actor, "release.record", release_id,
                                  permission="release.record") as change:
            session = change.session
            if session.get(Dataset, dataset_id) is None:
                raise CatalogError(f"release {release_id!r}: no dataset {dataset_id!r} "
                                   "in the catalog")
            release = session.get(Release, release_id)
            change.details = {"dataset_id": dataset_id, "form": form, "checksum": checksum,
                              "parameters": parameters_doc, "is_open": is_open,
                              "expires_at": expires_at}
            if release is None:
                release = Release(id=release_id)
                session.add(release)
            else:
                change.action = "release.replace"
                change.details["replaced_checksum"] = release.checksum
            release.dataset_id, release.form, release.title = dataset_id, form, title
            release.description = description
            release.artifact = self._storage.stored(artifact)
            release.checksum, release.parameters = checksum, parameters_doc
            release.is_open, release.expires_at = is_open, expires_at
            release.created_at = utcnow()
            release.revoked_at = release.revoked_by = release.revoked_reason = None
            session.flush()
            session.refresh(release, ["dataset"])
            return release_info(release, self._storage.root)

    def revoke_release(self, release_id: str, *, actor: str, reason: str) -> None:
        """Withdraw a release from consumers now; the sweep then destroys its artifact."""
        if not reason.strip():
            raise CatalogError(f"revoking release {release_id!r} needs a reason")
        with self._storage.change(actor, "release.revoke", release_id,
                                  permission="release.revoke") as change:
            release = change.session.get(Release, release_id)
            if release is None:
                raise CatalogError(f"no release {release_id!r} in the catalog")
            if release.revoked_at is not None:
                raise CatalogError(f"release {release_id!r} was already revoked on "
                                   f"{release.revoked_at:%Y-%m-%d}")
            release.revoked_at, release.revoked_by, release.revoked_reason = (
                utcnow(), actor, reason)
            change.details = {"reason": reason}

    def open_releases(self) -> list[ReleaseInfo]:
        """Releases consumers may see now: open, not revoked, not expired; newest first."""
        with self._storage.read() as session:
            return [release_info(r, self._storage.root)
                    for r in session.scalars(open_releases_query(utcnow()))]

    def get_release(self, release_id: str) -> ReleaseInfo | None:
        """The release if consumers may see it now, else None."""
        query = open_releases_query(utcnow()).where(Release.id == release_id)
        with self._storage.read() as session:
            release = session.scalars(query).one_or_none()
            return None if release is None else release_info(release, self._storage.root)
