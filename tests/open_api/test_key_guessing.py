"""Guessing API keys is throttled per client address, on every face that takes a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import catalog
from open_api import create_app
from tests.accounts import officer


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog.init_catalog(url)
    return url


def _guess(client: TestClient, n: int) -> int:
    return client.get("/api/v1/datasets", params={"api_key": f"plk_{n:012x}.guess"}).status_code


def test_an_address_guessing_keys_is_locked_out_with_a_clear_message(catalog_url):
    with catalog.Catalog.connect(catalog_url) as cat:
        real = cat.issue_api_key("analyst", actor=officer(cat))
        limit = cat.throttle_policy.address_failures
    client = TestClient(create_app(catalog_url))
    assert {_guess(client, n) for n in range(limit)} == {401}
    # Locked: even a real key is refused from this address now, and the answer says why.
    locked = client.get("/api/v1/datasets", params={"api_key": real})
    assert locked.status_code == 429
    assert "too many unknown API keys from this address: locked out until" in \
        locked.json()["error"]["message"]
    portal = client.get("/openapi/by-district/getList", params={"serviceKey": real})
    assert "locked out until" in portal.text
    dp = client.post("/api/v1/dp/query", headers={"X-API-Key": real},
                     json={"dataset": "x", "statistic": "count", "epsilon": 0.1})
    assert dp.status_code == 429


def test_expired_or_revoked_keys_are_not_counted_as_guesses(catalog_url):
    with catalog.Catalog.connect(catalog_url) as cat:
        who = officer(cat)
        stale = cat.issue_api_key("analyst", actor=who)
        cat.revoke_api_key(cat.check_api_key(stale).key_id, actor=who)
        limit = cat.throttle_policy.address_failures
        live = cat.issue_api_key("analyst", actor=who)
    client = TestClient(create_app(catalog_url))
    for _ in range(limit + 2):
        assert client.get("/api/v1/datasets", params={"api_key": stale}).status_code == 401
    assert client.get("/api/v1/datasets", params={"api_key": live}).status_code == 200
