"""Where the API learns which releases exist: a small Protocol the catalog satisfies.

The API never reads the catalog's tables; it asks a :class:`ReleaseSource` for the releases
that are visible now (open, not revoked, not expired). Tests use an in-memory double.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from open_api.errors import OpenApiError


class Release(Protocol):
    """What the API needs to know of one release (``catalog.ReleaseInfo`` has all of it)."""

    @property
    def id(self) -> str: ...
    @property
    def dataset_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def form(self) -> str: ...
    @property
    def artifact(self) -> str: ...
    @property
    def checksum(self) -> str: ...
    @property
    def parameters(self) -> Mapping[str, Any]: ...
    @property
    def columns(self) -> Mapping[str, str]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime | None: ...


@runtime_checkable
class ReleaseSource(Protocol):
    """The visible releases; anything hidden, revoked or expired is simply absent."""

    def open_releases(self) -> list[Release]: ...

    def get_release(self, release_id: str) -> Release | None: ...


#: The only forms ever published, whatever a source says (DESIGN 10): differentially private
#: aggregates and synthetic data. A secure-room extract is still pseudonymised data for named
#: researchers inside the room; a take-out is an anonymised extract for one approved
#: requester. An allow-list, so that a form added later stays unpublished until named here.
PUBLISHABLE_FORMS = frozenset({"dp_aggregate", "synthetic"})


def publishable(release: Release | None, now: datetime | None = None) -> bool:
    """Whether the API may show a release the source returned.

    The catalog already lists only visible releases; checking again here means a source
    that lags (a cached list, a release expiring mid-session) still cannot leak one.
    """
    if release is None or release.form not in PUBLISHABLE_FORMS:
        return False
    if not getattr(release, "is_open", True):
        return False
    expires_at = release.expires_at
    if expires_at is None:
        return True
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # the catalog keeps times in UTC
    return expires_at > (now or datetime.now(UTC))


def resolve_source(source: ReleaseSource | str, root: str | Path | None = None) -> ReleaseSource:
    """A source as given, or the catalog at a database URL.

    ``root`` is the workspace the catalog's relative artifact paths belong to: the API then
    finds them wherever it was started from, and after the workspace moved (issue 24).
    """
    if isinstance(source, str):
        import catalog  # imported here: the API can be built and tested without a catalog

        return catalog.Catalog.connect(source, root=root)
    if isinstance(source, ReleaseSource):
        return source
    raise OpenApiError(
        f"cannot serve from {type(source).__name__}: give a catalog database URL or an object "
        "with open_releases() and get_release(id)"
    )
