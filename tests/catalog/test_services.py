"""The catalog is small services over one storage layer, on SQLite and PostgreSQL.

Callers keep one entry point (``cat.record_release``) and may reach a service directly
(``cat.releases.record_release``): both are the same method. Whichever service writes,
its change and its audit entry commit together or not at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

import catalog
from catalog.accounts import AccountService
from catalog.audit import AuditService
from catalog.budgets import BudgetService
from catalog.datasets import DatasetService
from catalog.health import HealthService
from catalog.projects import ProjectService
from catalog.releases import ReleaseService
from catalog.request_service import RequestService
from catalog.sessions import SessionService
from catalog.sweep import SweepService
from catalog.takeout import TakeoutService

SERVICES = {"accounts": AccountService, "sessions": SessionService,
            "datasets": DatasetService, "projects": ProjectService,
            "releases": ReleaseService, "takeouts": TakeoutService,
            "budgets": BudgetService, "audit_log": AuditService,
            "requests": RequestService, "sweeper": SweepService, "health": HealthService}


def _public(cls: type) -> list[str]:
    return sorted(name for name, value in inspect.getmembers(cls, inspect.isfunction)
                  if not name.startswith("_"))


@pytest.mark.parametrize("attribute", sorted(SERVICES))
def test_every_service_method_is_on_the_catalog_with_its_signature(
        cat: catalog.Catalog, attribute: str) -> None:
    service = getattr(cat, attribute)
    assert isinstance(service, SERVICES[attribute])
    for name in _public(SERVICES[attribute]):
        if attribute == "requests" and name in ("require", "audit"):
            continue  # the storage plumbing the workflow is written against
        assert inspect.signature(getattr(catalog.Catalog, name)) == \
            inspect.signature(getattr(SERVICES[attribute], name)), name


def test_a_change_through_a_service_is_the_catalogs_change(cat: catalog.Catalog,
                                                           dataset: str) -> None:
    cat.releases.record_release("r1", dataset_id=dataset, form="synthetic", title="t",
                                artifact="r1.csv", checksum="0" * 64, parameters={},
                                actor="officer")
    assert [r.id for r in cat.open_releases()] == ["r1"]
    assert cat.audit_entries()[-1]["action"] == "release.record"
    assert cat.audit_log.verify_audit().ok


@pytest.fixture
def audit_down(cat: catalog.Catalog) -> Iterator[Callable[[str], None]]:
    """Make the database refuse audit entries of one action, as a failing disk would."""
    url = cat.storage.engine.url.render_as_string(hide_password=False)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    postgres = engine.dialect.name == "postgresql"

    def refuse(action: str) -> None:
        with engine.connect() as connection:
            if postgres:
                connection.execute(text(
                    "CREATE OR REPLACE FUNCTION services_audit_down() RETURNS trigger AS $$ "
                    f"BEGIN IF NEW.action = '{action}' THEN RAISE EXCEPTION "
                    "'audit log unavailable'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
                connection.execute(text(
                    "CREATE TRIGGER services_audit_down BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION services_audit_down()"))
            else:
                connection.execute(text(
                    "CREATE TRIGGER services_audit_down BEFORE INSERT ON audit_log "
                    f"WHEN NEW.action = '{action}' "
                    "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"))

    try:
        yield refuse
    finally:
        # The PostgreSQL database outlives this test: leave no trigger behind.
        with engine.connect() as connection:
            if postgres:
                connection.execute(text(
                    "DROP TRIGGER IF EXISTS services_audit_down ON audit_log"))
                connection.execute(text("DROP FUNCTION IF EXISTS services_audit_down()"))
            else:
                connection.execute(text("DROP TRIGGER IF EXISTS services_audit_down"))
        engine.dispose()


#: One writer per service: (audit action, the write, what must then still be absent).
WRITES = {
    "accounts": ("user.record",
                 lambda c: c.accounts.record_user("newcomer", role="consumer", actor="root"),
                 lambda c: c.get_user("newcomer")),
    "datasets": ("dataset.register",
                 lambda c: c.datasets.register_dataset(
                     "planted", title="t", path="/p.parquet", columns={"x": "other"},
                     project_id=None, lineage={}, actor="agency"),
                 lambda c: c.dataset("planted")),
    "projects": ("project.record",
                 lambda c: c.projects.record_project("p-new", purpose="statistics",
                                                     mode="exact", spec={}, actor="agency"),
                 lambda c: [p for p in c.list_projects() if p.id == "p-new"]),
    "releases": ("release.record",
                 lambda c: c.releases.record_release(
                     "r-new", dataset_id="housing-combined", form="synthetic", title="t",
                     artifact="r.csv", checksum="0" * 64, parameters={}, actor="officer"),
                 lambda c: c.get_release("r-new")),
    "budgets": ("budget.set",
                lambda c: c.budgets.set_budget("housing-combined", "cora", 1.0,
                                               actor="officer"),
                lambda c: c.budget("housing-combined", "cora")),
}


@pytest.mark.parametrize("service", sorted(WRITES))
def test_a_change_whose_audit_entry_fails_does_not_happen(
        cat: catalog.Catalog, dataset: str, audit_down: Callable[[str], None],
        service: str) -> None:
    action, write, found = WRITES[service]
    entries = len(cat.audit_entries())
    audit_down(action)
    with pytest.raises(catalog.CatalogError, match="audit log unavailable"):
        write(cat)
    assert not found(cat)
    assert len(cat.audit_entries()) == entries
    assert cat.verify_audit().ok
