"""Native-face rate limits: per key when one is sent, per address otherwise; keys checked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from open_api import ApiConfig, create_app

ROWS = "/api/v1/datasets/districts/rows"


def test_key_limit_then_429_with_retry_after(source, keys, districts):
    client = TestClient(create_app(source, keys=keys, config=ApiConfig(key_per_minute=2)))
    key = keys.issue_api_key("analyst", actor="officer")
    statuses = [client.get(ROWS, headers={"X-API-Key": key}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get(ROWS, params={"api_key": key})
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Without a key the request is anonymous, which is unlimited unless configured.
    assert client.get(ROWS).status_code == 200


def test_anonymous_limit_per_address(source, districts):
    client = TestClient(create_app(source, config=ApiConfig(anonymous_per_minute=1)))
    assert [client.get(ROWS).status_code for _ in range(2)] == [200, 429]


def test_a_key_that_is_sent_must_be_valid(source, keys, districts):
    client = TestClient(create_app(source, keys=keys))
    response = client.get(ROWS, headers={"X-API-Key": "made-up"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_key"
    # api_key is the endpoint's own parameter, never read as a column filter.
    key = keys.issue_api_key("a", actor="o")
    assert client.get(ROWS, params={"api_key": key}).json()["total"] == 4
