"""What a release looks like to its consumers (the open-data API, the analysis room)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from catalog.artefacts import local_path
from catalog.models import Dataset, Release


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
