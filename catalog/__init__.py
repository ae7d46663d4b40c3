"""The catalog (DESIGN 6): projects, datasets, releases, privacy budgets, audit log.

SQLite by default, PostgreSQL by URL; the schema is managed by the Alembic migrations
shipped in ``catalog/migrations``. ``init_catalog`` creates or upgrades a database,
``Catalog.connect`` opens one that is already at the newest schema.
"""

from catalog.budgets import BudgetInfo
from catalog.database import init_catalog
from catalog.errors import CatalogError
from catalog.facade import Catalog
from catalog.hashchain import AuditVerification
from catalog.releases import ReleaseInfo

__all__ = [
    "AuditVerification",
    "BudgetInfo",
    "Catalog",
    "CatalogError",
    "ReleaseInfo",
    "init_catalog",
]
