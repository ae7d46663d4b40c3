"""Every fault has a clean answer: malformed input is a 4xx, an outage a 503, never a 500."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import catalog
from open_api import create_app
from tests.conftest import POSTGRES_ADMIN_URL, fresh_postgres_database
from tests.open_api.conftest import DISTRICTS, MemorySource, write_release

DEEP = "[" * 5_000 + "]" * 5_000


@pytest.fixture
def client(tmp_path) -> TestClient:
    source = MemorySource()
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS))
    return TestClient(create_app(source), raise_server_exceptions=False)


def test_deeply_nested_json_body_is_a_bad_request_not_a_crash(client):
    response = client.post("/api/3/action/package_search", content=DEEP,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_deeply_nested_json_parameter_is_a_bad_request(client):
    response = client.get("/api/3/action/datastore_search",
                          params={"resource_id": "by-district", "filters": DEEP})
    assert response.status_code == 409  # CKAN's status for a Validation Error
    assert response.json()["error"]["__type"] == "Validation Error"


@pytest.mark.parametrize("fq", ['name:"abc', 'tags:"dp', 'name:"\\'])
def test_unterminated_quote_in_fq_is_a_search_query_error(client, fq):
    response = client.get("/api/3/action/package_search", params={"fq": fq})
    assert response.status_code == 409  # CKAN answers its Search Query Error with 409
    assert response.json()["error"]["__type"] == "Search Query Error"


def test_a_very_long_url_is_refused_cleanly(client):
    response = client.get("/api/v1/datasets/by-district/rows",
                          params={"sigungu": "가" * 5_000})
    assert response.status_code < 500


def _set_connections(url: str, allowed: bool) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS '
                                    f'{"true" if allowed else "false"}'))
            if not allowed:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM "
                                        "pg_stat_activity WHERE datname = :name"),
                                   {"name": name})
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_catalog_outage_is_503_with_retry_after_then_recovers(caplog):
    with fresh_postgres_database("pseudolink_outage") as url:
        catalog.init_catalog(url)
        client = TestClient(create_app(url), raise_server_exceptions=False)
        assert client.get("/api/v1/datasets").status_code == 200
        _set_connections(url, allowed=False)
        try:
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                answers = [client.get(path) for path in ("/api/v1/datasets",
                                                         "/api/3/action/package_list",
                                                         "/api/v1/datasets/x")]
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert int(answer.headers["retry-after"]) > 0
            assert answers[0].json()["error"]["code"] == "unavailable"
            # One line per failure, no traceback flood.
            assert all(record.exc_info is None for record in caplog.records)
        finally:
            _set_connections(url, allowed=True)
        deadline = time.monotonic() + 10
        while client.get("/api/v1/datasets").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover after the outage"
            time.sleep(0.2)


def test_concurrent_downloads_share_one_database_and_bounded_threads(tmp_path):
    source = MemorySource()
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS))
    client = TestClient(create_app(source), raise_server_exceptions=False)
    before = threading.active_count()
    statuses: list[int] = []

    def download() -> None:
        statuses.append(client.get("/api/v1/datasets/by-district.csv").status_code)

    workers = [threading.Thread(target=download) for _ in range(40)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert set(statuses) <= {200, 429}
    assert 200 in statuses
    from open_api.connections import database

    con = database()
    threads = con.execute("select current_setting('threads')").fetchone()[0]
    assert threads <= 4
    assert threading.active_count() - before < 60
