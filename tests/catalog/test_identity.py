"""Passwords (argon2), API keys (shown once, stored hashed) and DP column bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

import catalog
from catalog.coltypes import utcnow
from tests.accounts import admin, person


def test_passwords_are_hashed_at_the_strong_cost_unless_tests_say_otherwise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog import identity

    monkeypatch.delenv(identity.HASHING_SETTING)
    strong = identity.hash_password("po1", "correct horse battery")
    assert "$m=65536,t=3,p=4$" in strong
    monkeypatch.setenv(identity.HASHING_SETTING, "test-only-insecure")
    cheap = identity.hash_password("po1", "correct horse battery")
    assert "$m=8,t=1,p=1$" in cheap
    # Each verifies under either setting; the strong setting asks to rehash the cheap one.
    assert identity.verify_password(strong, "correct horse battery")
    monkeypatch.setenv(identity.HASHING_SETTING, "strong")
    assert identity.verify_password(cheap, "correct horse battery")
    assert identity.needs_rehash(cheap) and not identity.needs_rehash(strong)
    monkeypatch.setenv(identity.HASHING_SETTING, "fast")
    with pytest.raises(catalog.CatalogError, match="PSEUDOLINK_PASSWORD_HASHING='fast'"):
        identity.hash_password("po1", "correct horse battery")


def test_password_is_stored_as_argon2_and_checked(cat: catalog.Catalog, people: dict,
                                                  database_url: str) -> None:
    cat.set_password("po1", "correct horse battery", actor="root")
    user = cat.authenticate("po1", "correct horse battery")
    assert user is not None and user.role == "privacy_officer"
    assert cat.authenticate("po1", "correct horse batterY") is None
    assert cat.authenticate("ghost", "correct horse battery") is None
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users WHERE id='po1'"))
        assert stored.scalar_one().startswith("$argon2id$")
    engine.dispose()
    logins = [(e["action"], e["target"]) for e in cat.audit_entries()[-3:]]
    assert logins == [("auth.login", "po1"), ("auth.login_failed", "po1"),
                      ("auth.login_failed", "ghost")]
    assert "correct horse" not in str(cat.audit_entries())


def test_deactivated_user_cannot_log_in(cat: catalog.Catalog, people: dict) -> None:
    cat.set_password("po1", "correct horse battery", actor="root")
    cat.deactivate_user("po1", actor="root")
    assert cat.authenticate("po1", "correct horse battery") is None


@pytest.mark.parametrize(("password", "message"), [
    ("short", "too short"), ("po1po1po1po1po1", None), (" padded password ", "spaces")])
def test_weak_passwords_are_refused(cat: catalog.Catalog, people: dict, password: str,
                                    message: str | None) -> None:
    if message is None:
        cat.set_password("po1", password, actor="root")
        return
    with pytest.raises(catalog.CatalogError, match=message):
        cat.set_password("po1", password, actor="root")


def test_api_key_is_shown_once_and_stored_only_as_a_hash(cat: catalog.Catalog,
                                                         database_url: str) -> None:
    admin(cat)
    secret = cat.issue_api_key("city-dashboard", actor="root", daily_quota=1000,
                               scopes=["open_data", "dp"])
    check = cat.check_api_key(secret)
    assert check.status == "valid" and check.valid
    assert (check.owner, check.daily_quota, check.scopes) == ("city-dashboard", 1000,
                                                              ("dp", "open_data"))
    assert secret.startswith(check.key_id + ".")
    engine = create_engine(database_url)
    with engine.connect() as connection:
        for table in ("api_keys", "audit_log"):
            dump = str(connection.execute(text(f"SELECT * FROM {table}")).all())
            assert secret.split(".", 1)[1] not in dump
    engine.dispose()
    [listed] = cat.list_api_keys()
    assert listed.key_id == check.key_id and listed.revoked_at is None


@pytest.mark.parametrize("presented", ["", "nonsense", "plk_000000000000.guess",
                                       "Bearer plk_x"])
def test_unknown_api_keys_grant_nothing(cat: catalog.Catalog, presented: str) -> None:
    admin(cat)
    cat.issue_api_key("someone", actor="root")
    check = cat.check_api_key(presented)
    assert check.status == "unknown" and check.owner is None and not check.valid


def test_a_forged_token_under_a_real_key_id_is_unknown(cat: catalog.Catalog) -> None:
    admin(cat)
    secret = cat.issue_api_key("someone", actor="root")
    assert cat.check_api_key(secret[:-1] + ("A" if secret[-1] != "A" else "B")).status == \
        "unknown"


def test_api_keys_expire_and_are_revoked(cat: catalog.Catalog) -> None:
    admin(cat)
    old = cat.issue_api_key("a", actor="root", expires_at=utcnow() - timedelta(seconds=1))
    assert cat.check_api_key(old).status == "expired"
    live = cat.issue_api_key("b", actor="root", expires_at=utcnow() + timedelta(days=1))
    key_id = cat.check_api_key(live).key_id
    cat.revoke_api_key(key_id, actor="root")
    assert cat.check_api_key(live).status == "revoked"
    with pytest.raises(catalog.CatalogError, match="already revoked"):
        cat.revoke_api_key(key_id, actor="root")
    assert cat.audit_entries()[-1]["action"] == "apikey.revoke"


def test_column_bounds_are_recorded_and_checked(cat: catalog.Catalog, dataset: str) -> None:
    person(cat, "po1", "privacy_officer")
    cat.register_dataset(dataset, title="t", path="/p",
                         columns={"link_id": "other", "ssis__income": "sensitive"},
                         project_id=None, lineage={}, actor="agency")
    cat.set_column_bounds(dataset, "ssis__income", 0, 2e8, actor="po1")
    cat.set_column_bounds(dataset, "ssis__income", 0, 1e8, actor="po1")
    assert cat.column_bounds(dataset) == {"ssis__income": (0.0, 1e8)}
    with pytest.raises(catalog.CatalogError, match="lower bound 5 must be below upper bound 1"):
        cat.set_column_bounds(dataset, "ssis__income", 5, 1, actor="po1")
    with pytest.raises(catalog.CatalogError, match="has no column 'nope'"):
        cat.set_column_bounds(dataset, "nope", 0, 1, actor="po1")
    with pytest.raises(catalog.CatalogError, match="finite"):
        cat.set_column_bounds(dataset, "ssis__income", 0, float("inf"), actor="po1")
