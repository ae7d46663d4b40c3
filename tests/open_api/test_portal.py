"""The public-data-portal face: data.go.kr's parameters, envelope, result codes and quotas."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from open_api import create_app
from open_api.config import ApiConfig
from open_api.limits import MemoryLimiter, RedisLimiter, Window
from tests.conftest import skip_unless_ci

URL = "/openapi/districts/getList"


@pytest.fixture
def portal(source, keys, districts):
    return TestClient(create_app(source, keys=keys, config=ApiConfig(daily_quota=5)),
                      raise_server_exceptions=False)


@pytest.fixture
def key(keys):
    return keys.issue_api_key("citizen", actor="officer")


def header(response):
    assert response.status_code == 200  # the portal answers 200; the outcome is the code
    if response.headers["content-type"].startswith("application/json"):
        return response.json()["response"]["header"]
    root = ET.fromstring(response.content)
    return {child.tag: child.text for child in root.find("header")}


def test_json_page_has_the_portal_envelope(portal, key):
    body = portal.get(URL, params={"serviceKey": key, "type": "json", "numOfRows": 2,
                                   "pageNo": 2}).json()["response"]
    assert body["header"] == {"resultCode": "00", "resultMsg": "NORMAL SERVICE."}
    assert body["body"]["numOfRows"] == 2 and body["body"]["pageNo"] == 2
    assert body["body"]["totalCount"] == 4
    assert [item["sigungu"] for item in body["body"]["items"]["item"]] == ["중랑구", "강서구"]


def test_xml_is_the_default_with_one_element_per_column(portal, key):
    response = portal.get(URL, params={"serviceKey": key, "households": "85"})
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "response" and root.findtext("header/resultCode") == "00"
    items = root.findall("body/items/item")
    assert [item.findtext("sigungu") for item in items] == ["노원구", "중랑구"]
    assert root.findtext("body/totalCount") == "2"
    assert items[1].findtext("share") == ""  # a missing value is an empty element


@pytest.mark.parametrize("spelling", ["type", "resultType", "_type", "dataType"])
def test_every_format_spelling_is_accepted(portal, key, spelling):
    response = portal.get(URL, params={"serviceKey": key, spelling: "JSON"})
    assert response.json()["response"]["header"]["resultCode"] == "00"


def test_encoded_service_key_is_accepted_as_the_portal_hands_it_out(portal, key):
    # The "encoding" spelling of the key, URL-encoded once more by the HTTP client.
    response = portal.get(URL, params={"serviceKey": quote(key, safe=""), "type": "json"})
    assert header(response)["resultCode"] == "00"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"pageNo": "99"}, "03"),
        ({"sigungu": "없는구"}, "03"),
        ({"numOfRows": "0"}, "10"),
        ({"numOfRows": "1001"}, "10"),
        ({"pageNo": "first"}, "10"),
        ({"type": "csv"}, "10"),
        ({"type": "json", "_type": "xml"}, "10"),
        ({"nosuchcolumn": "1"}, "10"),
        ({"households": "many"}, "10"),
    ],
)
def test_result_codes_for_data_and_parameters(portal, key, params, code):
    response = portal.get(URL, params={"serviceKey": key, **params})
    assert header(response)["resultCode"] == code
    assert header(response)["resultMsg"]


def test_missing_service_key_is_11(portal):
    assert header(portal.get(URL, params={"type": "json"}))["resultCode"] == "11"


def test_key_problems_have_their_codes(portal, keys):
    assert header(portal.get(URL, params={"serviceKey": "not-a-key"}))["resultCode"] == "30"
    expired = keys.issue_api_key("x", actor="o",
                                 expires_at=datetime.now(UTC) - timedelta(days=1))
    assert header(portal.get(URL, params={"serviceKey": expired}))["resultCode"] == "31"
    revoked = keys.issue_api_key("x", actor="o")
    keys.revoke(revoked)
    assert header(portal.get(URL, params={"serviceKey": revoked}))["resultCode"] == "20"
    other = keys.issue_api_key("x", actor="o", scopes=("dp_query",))
    assert header(portal.get(URL, params={"serviceKey": other}))["resultCode"] == "20"


def test_unknown_or_hidden_dataset_is_no_service(portal, key, source, districts):
    response = portal.get("/openapi/nothing/getList", params={"serviceKey": key})
    assert header(response)["resultCode"] == "12"
    source.hidden.add(districts.id)
    assert header(portal.get(URL, params={"serviceKey": key}))["resultCode"] == "12"


def test_daily_quota_per_key_then_22(portal, keys, key):
    for _ in range(5):
        assert header(portal.get(URL, params={"serviceKey": key}))["resultCode"] == "00"
    assert header(portal.get(URL, params={"serviceKey": key}))["resultCode"] == "22"
    # Another key has its own count, and a key's own quota beats the server's.
    generous = keys.issue_api_key("big", actor="o", daily_quota=7)
    codes = [header(portal.get(URL, params={"serviceKey": generous}))["resultCode"]
             for _ in range(8)]
    assert codes == ["00"] * 7 + ["22"]


def test_without_a_key_registry_every_key_is_unregistered(source, districts):
    client = TestClient(create_app(source))
    assert header(client.get(URL, params={"serviceKey": "anything"}))["resultCode"] == "30"


def test_unexpected_failure_is_99_without_details(portal, key, source, monkeypatch):
    def broken(_):
        raise RuntimeError("disk on fire at /secret")

    monkeypatch.setattr(source, "get_release", broken)
    response = portal.get(URL, params={"serviceKey": key, "type": "json"})
    assert header(response)["resultCode"] == "99"
    assert "fire" not in response.text


def test_memory_limiter_counts_per_bucket_and_window():
    limiter = MemoryLimiter()
    day = Window("day:2026-03-01", 100)
    assert [limiter.hit("a", day, 2).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", day, 2).allowed
    assert limiter.hit("a", Window("day:2026-03-02", 100), 2).allowed


def test_redis_limiter_is_shared_between_servers():
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError):
        skip_unless_ci("Redis at 127.0.0.1:6379 is not reachable")
    bucket = f"test:{uuid.uuid4().hex}"
    window = Window("day:test", 60)
    first, second = RedisLimiter("redis://127.0.0.1:6379/0"), RedisLimiter("redis://127.0.0.1:6379/0")
    assert first.hit(bucket, window, 3).count == 1
    assert second.hit(bucket, window, 3).count == 2
    assert first.hit(bucket, window, 3).allowed
    assert not second.hit(bucket, window, 3).allowed  # the fourth call, counted across both
    ttl = redis.Redis(host="127.0.0.1", port=6379).ttl(f"{RedisLimiter.PREFIX}{bucket}:day:test")
    assert 0 < ttl <= 120


def test_portal_quota_through_redis_spans_two_apps(source, keys, districts):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError):
        skip_unless_ci("Redis at 127.0.0.1:6379 is not reachable")
    key = keys.issue_api_key("shared", actor="o", daily_quota=3)
    config = ApiConfig(redis_url="redis://127.0.0.1:6379/0")
    apps = [TestClient(create_app(source, keys=keys, config=config)) for _ in range(2)]
    codes = [header(apps[i % 2].get(URL, params={"serviceKey": key}))["resultCode"]
             for i in range(4)]
    assert codes == ["00", "00", "00", "22"]
    # The counter is keyed by the key's id, never by the secret itself.
    names = [n.decode() for n in redis.Redis(host="127.0.0.1", port=6379).keys(
        f"{RedisLimiter.PREFIX}portal:*")]
    assert names and not any(key in name for name in names)
