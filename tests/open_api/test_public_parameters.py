"""Where the microdata behind a DP-query release lives is never published."""

from __future__ import annotations

from pathlib import Path

from tests.open_api.conftest import DISTRICTS, write_release

SECRET_PATH = "/srv/pseudolink/data/housing-2026/combined.parquet"


def test_no_face_publishes_the_microdata_path(tmp_path: Path, source, client):
    source.add(write_release(
        tmp_path / "dp-manifest.parquet", DISTRICTS,
        parameters={"epsilon": 1.0, "dp_query": True, "data": SECRET_PATH,
                    "data_sha256": "ab" * 32},
    ))
    pages = [
        "/api/v1/datasets", "/api/v1/datasets/dp-manifest",
        "/api/v1/datasets/dp-manifest/datapackage.json", "/api/v1/datasets/dp-manifest.jsonld",
        "/api/v1/datasets/dp-manifest.ttl", "/api/3/action/package_show?id=dp-manifest",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert SECRET_PATH not in response.text, page
        assert "ab" * 32 not in response.text, page
    assert client.get("/api/v1/datasets/dp-manifest").json()["parameters"]["epsilon"] == 1.0
