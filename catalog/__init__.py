"""The catalog (DESIGN 6): projects, datasets, requests, releases, budgets, identity, audit.

SQLite by default, PostgreSQL by URL; the schema is managed by the Alembic migrations
shipped in ``catalog/migrations``. ``init_catalog`` creates or upgrades a database,
``Catalog.connect`` opens one that is already at the newest schema.
"""

from catalog.airlock import AirlockFileInfo, AirlockInfo, AirlockRecords, AirlockVoteInfo
from catalog.airlock_states import AIRLOCK, REVIEWS_NEEDED
from catalog.artefacts import ArtefactInfo
from catalog.audit_key import (
    AuditSigner,
    create_audit_key,
    load_audit_public,
    load_audit_signer,
)
from catalog.budgets import BudgetInfo
from catalog.checkpoints import Anchor, CheckpointFile
from catalog.committee import CommitteeRules, RiskThresholds, Tally
from catalog.database import init_catalog
from catalog.datasets import DatasetInfo
from catalog.dumps import dump as dump_catalog
from catalog.dumps import load as load_catalog
from catalog.errors import CatalogError
from catalog.facade import Catalog
from catalog.hashchain import AuditVerification
from catalog.identity import ApiKeyCheck, ApiKeyInfo, UserInfo
from catalog.models import CLASSIFICATIONS
from catalog.projects import PARTY_ACTOR, STAGES, ProjectInfo
from catalog.releases import OPEN_FORMS, ReleaseInfo
from catalog.requests import AccessInfo, RequestInfo
from catalog.researcher import ApprovedUse, TakeoutInfo
from catalog.roles import PERMISSIONS, PermissionRefused, permits
from catalog.room_stages import ROOM_SYSTEM, RoomStages
from catalog.sessions import LoginRefused, ThrottlePolicy
from catalog.state_machine import Machine, render_docs
from catalog.sweep import SweepReport
from catalog.takeout import TakeoutOrder
from catalog.workflow import ACCESS, TRANSITIONS, IllegalTransition

__all__ = [
    "ACCESS",
    "AIRLOCK",
    "CLASSIFICATIONS",
    "OPEN_FORMS",
    "PARTY_ACTOR",
    "PERMISSIONS",
    "REVIEWS_NEEDED",
    "ROOM_SYSTEM",
    "STAGES",
    "TRANSITIONS",
    "AccessInfo",
    "AirlockFileInfo",
    "AirlockInfo",
    "AirlockRecords",
    "AirlockVoteInfo",
    "Anchor",
    "ApiKeyCheck",
    "ApiKeyInfo",
    "ApprovedUse",
    "ArtefactInfo",
    "AuditSigner",
    "AuditVerification",
    "BudgetInfo",
    "Catalog",
    "CatalogError",
    "CheckpointFile",
    "CommitteeRules",
    "DatasetInfo",
    "IllegalTransition",
    "LoginRefused",
    "Machine",
    "PermissionRefused",
    "ProjectInfo",
    "ReleaseInfo",
    "RequestInfo",
    "RiskThresholds",
    "RoomStages",
    "SweepReport",
    "TakeoutInfo",
    "TakeoutOrder",
    "Tally",
    "ThrottlePolicy",
    "UserInfo",
    "create_audit_key",
    "dump_catalog",
    "init_catalog",
    "load_audit_public",
    "load_audit_signer",
    "load_catalog",
    "permits",
    "render_docs",
]
