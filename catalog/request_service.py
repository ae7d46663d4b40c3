"""Access requests as a service over the storage layer.

The workflow itself (``catalog.requests``: the officers' half, ``catalog.researcher``:
the requester's half) is written against a few plumbing names (``_write``, ``_read``,
``audit``...). This class supplies them from the one storage layer, so requests commit
through the same transactions and audit chain as every other service.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from catalog.audit import AuditService
from catalog.committee import CommitteeRules, RiskThresholds
from catalog.identity import UserInfo
from catalog.requests import RequestMethods
from catalog.researcher import ResearcherMethods
from catalog.roles import PermissionRefused
from catalog.storage import Pending, Storage


class RequestService(RequestMethods, ResearcherMethods):
    """Drafting, reviewing, deciding, committees, grants and renewals of access requests."""

    def __init__(self, storage: Storage, audit: AuditService, *,
                 committee_rules: CommitteeRules, risk_thresholds: RiskThresholds) -> None:
        self._storage = storage
        self._audit = audit
        self.committee_rules = committee_rules
        self.risk_thresholds = risk_thresholds

    def _write(self) -> AbstractContextManager[Session]:
        return self._storage.write()

    def _read(self) -> AbstractContextManager[Session]:
        return self._storage.read()

    def _change(self, actor: str, action: str, target: str, *,
                permission: str | None = None) -> AbstractContextManager[Pending]:
        return self._storage.change(actor, action, target, permission=permission)

    def _audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None:
        self._storage.audit_refusal(actor, target, refused)

    def require(self, actor: str, action: str) -> UserInfo:
        return self._storage.require(actor, action)

    def _stored(self, path: Any) -> str:
        return self._storage.stored(path)

    def _local(self, stored: str) -> str:
        return self._storage.local(stored)

    def audit(self, actor: str, action: str, target: str, details: dict) -> None:
        self._audit.audit(actor, action, target, details)


#: The public methods a ``Catalog`` forwards to its request service.
PUBLIC = tuple(sorted(
    name for cls in (RequestMethods, ResearcherMethods) for name, value in vars(cls).items()
    if callable(value) and not name.startswith("_") and name != "audit"))
