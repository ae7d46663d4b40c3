"""The API over the real catalog (SQLite): what the catalog publishes, the API serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import catalog
from open_api import create_app
from tests.accounts import officer
from tests.open_api.conftest import DISTRICTS, sha256


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog.init_catalog(url)
    with catalog.Catalog.connect(url) as cat:
        officer(cat, "officer")
        cat.register_dataset(
            "housing-combined", title="Combined housing data", path=str(tmp_path / "c.parquet"),
            columns={"sigungu": "quasi_identifier", "households": "other"}, project_id=None,
            lineage={"holders": ["ssis", "building"]}, actor="officer",
        )
        for release_id, expires_at in (("by-district", None), ("old", datetime(2020, 1, 1,
                                                                              tzinfo=UTC))):
            artifact = tmp_path / f"{release_id}.parquet"
            pq.write_table(DISTRICTS, artifact)
            cat.record_release(
                release_id, dataset_id="housing-combined", form="dp_aggregate",
                title="Households by district", artifact=str(artifact),
                checksum=sha256(artifact), parameters={"epsilon": 0.5}, actor="officer",
                expires_at=expires_at,
            )
    return url


def test_catalog_release_is_served_by_url(catalog_url):
    client = TestClient(create_app(catalog_url))
    listed = client.get("/api/v1/datasets").json()
    assert [d["id"] for d in listed["datasets"]] == ["by-district"]  # "old" has expired
    meta = client.get("/api/v1/datasets/by-district").json()
    assert meta["provenance"] == {"dataset_id": "housing-combined"}
    assert meta["parameters"] == {"epsilon": 0.5}
    assert meta["columns"][0] == {"name": "sigungu", "type": "VARCHAR",
                                  "classification": "quasi_identifier"}
    rows = client.get("/api/v1/datasets/by-district/rows", params={"sigungu": "노원구"}).json()
    assert rows["rows"][0]["households"] == 85
    assert client.get("/api/v1/datasets/old").status_code == 404


@pytest.mark.parametrize("endpoint", ["", "/rows", ".csv"])
def test_revoked_catalog_release_is_404_everywhere(catalog_url, endpoint):
    client = TestClient(create_app(catalog_url))
    assert client.get(f"/api/v1/datasets/by-district{endpoint}").status_code == 200
    with catalog.Catalog.connect(catalog_url) as cat:
        cat.revoke_release("by-district", actor="officer", reason="re-identification risk")
    response = client.get(f"/api/v1/datasets/by-district{endpoint}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/datasets").json()["count"] == 0


def test_release_expiring_soon_is_still_served(catalog_url, tmp_path):
    with catalog.Catalog.connect(catalog_url) as cat:
        artifact = tmp_path / "soon.parquet"
        pq.write_table(DISTRICTS, artifact)
        cat.record_release("soon", dataset_id="housing-combined", form="synthetic",
                           title="Synthetic", artifact=str(artifact), checksum=sha256(artifact),
                           parameters={}, actor="officer",
                           expires_at=datetime.now(UTC) + timedelta(days=1))
    client = TestClient(create_app(catalog_url))
    meta = client.get("/api/v1/datasets/soon").json()
    assert meta["expires_at"] is not None


def test_portal_accepts_a_key_issued_by_the_catalog(catalog_url):
    if not hasattr(catalog.Catalog, "issue_api_key"):
        pytest.skip("the catalog cannot issue API keys yet")
    with catalog.Catalog.connect(catalog_url) as cat:
        key = cat.issue_api_key("citizen", actor="officer", daily_quota=1)
    client = TestClient(create_app(catalog_url))
    url = "/openapi/by-district/getList"
    first = client.get(url, params={"serviceKey": key, "type": "json"}).json()["response"]
    assert first["header"]["resultCode"] == "00"
    assert first["body"]["totalCount"] == 4
    again = client.get(url, params={"serviceKey": key, "type": "json"}).json()["response"]
    assert again["header"]["resultCode"] == "22"
    wrong = client.get(url, params={"serviceKey": key + "x", "type": "json"}).json()
    assert wrong["response"]["header"]["resultCode"] == "30"
