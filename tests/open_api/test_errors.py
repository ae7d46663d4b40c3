"""Refusals: hidden releases stay hidden, tampered data is withheld, errors are stable JSON."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from open_api import OpenApiError, create_app
from tests.open_api.conftest import DISTRICTS, hide, write_release

ENDPOINTS = (
    "/api/v1/datasets/{id}",
    "/api/v1/datasets/{id}/rows",
    "/api/v1/datasets/{id}.csv",
)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_hidden_release_is_404_everywhere(client, source, districts, endpoint):
    assert client.get(endpoint.format(id="districts")).status_code == 200
    hide(source, districts)
    response = client.get(endpoint.format(id="districts"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/datasets").json()["datasets"] == []
    assert "districts" not in client.get("/").text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_dataset_is_404_json(client, endpoint):
    response = client.get(endpoint.format(id="no-such-thing"))
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no published dataset 'no-such-thing'"}
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_secure_room_extract_is_never_published_even_if_listed(client, source, tmp_path,
                                                                endpoint):
    source.add(write_release(tmp_path / "room.parquet", DISTRICTS, form="secure_room"))
    assert client.get(endpoint.format(id="room")).status_code == 404
    assert client.get("/api/v1/datasets").json()["count"] == 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_tampered_artifact_is_withheld_with_503(client, districts, endpoint, caplog):
    assert client.get(endpoint.format(id="districts")).status_code == 200
    path = districts.artifact
    stat = os.stat(path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as handle:
        handle.write(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with caplog.at_level(logging.ERROR, logger="open_api"):
        response = client.get(endpoint.format(id="districts"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "artifact_unavailable"
    assert "integrity" in response.json()["error"]["message"]
    assert "refusing" in caplog.text
    (listed,) = client.get("/api/v1/datasets").json()["datasets"]
    assert listed["status"] == "unavailable" and listed["row_count"] is None


def test_missing_artifact_is_503(client, districts):
    os.remove(districts.artifact)
    response = client.get("/api/v1/datasets/districts/rows")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "artifact_unavailable"


def test_checksum_is_verified_once_per_file_version(client, districts, monkeypatch):
    import open_api.artifacts as artifacts

    calls = []
    real = artifacts.sha256_file
    monkeypatch.setattr(artifacts, "sha256_file", lambda p: calls.append(p) or real(p))
    for _ in range(3):
        client.get("/api/v1/datasets/districts/rows")
    assert len(calls) == 1


def test_unexpected_error_is_500_json_without_traceback_or_keys(client, source, caplog,
                                                                 monkeypatch):
    def broken():
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(source, "open_releases", broken)
    with caplog.at_level(logging.ERROR, logger="open_api"):
        response = client.get("/api/v1/datasets", params={"serviceKey": "s3cr3t-key", "q": "x"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert "exploded" not in response.text and "Traceback" not in response.text
    assert "database exploded" in caplog.text  # logged server-side
    assert "s3cr3t-key" not in caplog.text
    assert "serviceKey=***" in caplog.text


def test_unknown_route_and_wrong_method_answer_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = client.post("/api/v1/datasets")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_describes_400_errors_not_422(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    rows = document["paths"]["/api/v1/datasets/{release_id}/rows"]["get"]
    assert "422" not in rows["responses"]
    assert rows["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert {"404", "503"} <= set(rows["responses"])
    assert "/api/v1/datasets/{release_id}.csv" in document["paths"]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ErrorResponse" in schemas and "RowsPage" in schemas
    assert "422" not in str(document["paths"])


def test_a_source_that_is_not_one_is_refused():
    with pytest.raises(OpenApiError, match="open_releases"):
        create_app(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides", [{"is_open": False},
                                       {"expires_at": datetime(2020, 1, 1, tzinfo=UTC)},
                                       {"expires_at": datetime(2020, 1, 1)}])
def test_closed_or_expired_release_is_404_even_if_the_source_lists_it(client, source, tmp_path,
                                                                       overrides):
    source.add(write_release(tmp_path / "late.parquet", DISTRICTS, **overrides))
    assert client.get("/api/v1/datasets/late/rows").status_code == 404
    assert client.get("/api/v1/datasets").json()["count"] == 0
