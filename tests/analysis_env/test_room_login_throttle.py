"""The secure room's login form is throttled like every other: per account and per address."""

from __future__ import annotations

from analysis_env.hub import access
from tests.analysis_env.conftest import PASSWORD, grant


def test_guessing_a_researchers_password_locks_the_account_even_for_the_right_one(
        cat, extract, catalog_url):
    cat.set_password("kim", PASSWORD, actor="root")
    grant(cat, "r1", "kim", ["ssis__sido"])
    for _ in range(cat.throttle_policy.account_failures):
        assert access.login(catalog_url, "kim", "a wrong guess", "10.0.0.9") == (
            False, "wrong user name or password")
    ok, reason = access.login(catalog_url, "kim", PASSWORD, "10.0.0.7")
    assert not ok
    assert "too many failed logins for account 'kim': locked out until" in reason


def test_one_address_guessing_many_accounts_is_locked_out(cat, extract, catalog_url):
    cat.set_password("lee", PASSWORD, actor="root")
    grant(cat, "r-lee", "lee", ["ssis__sido"])
    limit = cat.throttle_policy.address_failures
    for n in range(limit):
        access.login(catalog_url, f"guess-{n}", "a wrong guess", "10.0.0.66")
    ok, reason = access.login(catalog_url, "lee", PASSWORD, "10.0.0.66")
    assert not ok and "this client address" in reason
    # Another address is not held responsible for the first one's guesses.
    assert access.login(catalog_url, "lee", PASSWORD, "10.0.0.8") == (True, "")
