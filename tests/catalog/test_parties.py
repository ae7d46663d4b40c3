"""Organisations and users: recorded with a role from the fixed set, every change audited."""

from __future__ import annotations

import pytest

import catalog
from tests.accounts import admin


def test_user_roles_are_recorded_and_changes_audited(cat: catalog.Catalog) -> None:
    root = admin(cat)
    cat.record_organisation("ssis", name="한국사회보장정보원", actor=root)
    cat.record_user("kim", role="researcher", organisation_id="ssis", actor=root)
    cat.record_user("kim", role="consumer", organisation_id="ssis", actor=root)
    assert cat.user_role("kim") == "consumer"
    assert cat.user_role("nobody") is None
    last = cat.audit_entries()[-1]
    assert (last["action"], last["details"]["previous_role"]) == ("user.update", "researcher")


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.record_user("lee", role="superuser", actor=admin(c)),
     "role 'superuser' is not one of"),
    (lambda c: c.record_user("lee", role="holder", organisation_id="nope", actor=admin(c)),
     "no organisation 'nope'"),
])
def test_bad_users_are_refused(cat: catalog.Catalog, call, message: str) -> None:
    before = (admin(cat), cat.audit_entries())[1]
    with pytest.raises(catalog.CatalogError, match=message):
        call(cat)
    assert cat.audit_entries() == before


def test_in_memory_sqlite_is_refused_because_the_log_would_vanish() -> None:
    with pytest.raises(catalog.CatalogError, match="in-memory"):
        catalog.init_catalog("sqlite://")
