"""Every HTML page of the API may load only what this server serves (separated networks)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from open_api import create_app
from open_api.app import PAGE_POLICY
from tests.open_api.conftest import DISTRICTS, MemorySource, write_release


def test_html_pages_carry_the_same_origin_policy_and_data_answers_do_not_need_it(tmp_path):
    source = MemorySource()
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS))
    client = TestClient(create_app(source))
    for path in ("/", "/docs", "/redoc", "/datasets/by-district"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert page.headers["content-security-policy"] == PAGE_POLICY, path
    rows = client.get("/api/v1/datasets/by-district/rows")
    assert rows.status_code == 200
    assert "content-security-policy" not in rows.headers
