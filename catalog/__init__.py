"""The catalog (DESIGN 6): projects, datasets, requests, releases, budgets, identity, audit.

SQLite by default, PostgreSQL by URL; the schema is managed by the Alembic migrations
shipped in ``catalog/migrations``. ``init_catalog`` creates or upgrades a database,
``Catalog.connect`` opens one that is already at the newest schema.
"""

from catalog.artefacts import ArtefactInfo
from catalog.budgets import BudgetInfo
from catalog.committee import CommitteeRules, Tally
from catalog.database import init_catalog
from catalog.datasets import DatasetInfo
from catalog.errors import CatalogError
from catalog.facade import Catalog
from catalog.hashchain import AuditVerification
from catalog.identity import ApiKeyCheck, ApiKeyInfo, UserInfo
from catalog.projects import STAGES, ProjectInfo
from catalog.releases import OPEN_FORMS, ReleaseInfo
from catalog.requests import AccessInfo, RequestInfo
from catalog.roles import PERMISSIONS, PermissionRefused, permits
from catalog.sessions import LoginRefused, ThrottlePolicy
from catalog.sweep import SweepReport
from catalog.workflow import TRANSITIONS, IllegalTransition

__all__ = [
    "OPEN_FORMS",
    "PERMISSIONS",
    "STAGES",
    "TRANSITIONS",
    "AccessInfo",
    "ArtefactInfo",
    "ApiKeyCheck",
    "ApiKeyInfo",
    "AuditVerification",
    "BudgetInfo",
    "Catalog",
    "CatalogError",
    "CommitteeRules",
    "DatasetInfo",
    "IllegalTransition",
    "LoginRefused",
    "PermissionRefused",
    "ProjectInfo",
    "ReleaseInfo",
    "RequestInfo",
    "SweepReport",
    "Tally",
    "ThrottlePolicy",
    "UserInfo",
    "init_catalog",
    "permits",
]
