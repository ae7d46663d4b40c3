"""An in-memory release source and small Parquet releases for the API tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from open_api import create_app


@dataclass(frozen=True)
class FakeRelease:
    """Shaped like ``catalog.ReleaseInfo``."""

    id: str
    dataset_id: str
    title: str
    description: str
    form: str
    artifact: str
    checksum: str
    parameters: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    created_at: datetime = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    expires_at: datetime | None = None
    is_open: bool = True


class MemorySource:
    """A ReleaseSource double: releases can be published and hidden again."""

    def __init__(self) -> None:
        self.releases: dict[str, FakeRelease] = {}
        self.hidden: set[str] = set()

    def add(self, release: FakeRelease) -> FakeRelease:
        self.releases[release.id] = release
        return release

    def open_releases(self) -> list[FakeRelease]:
        return [r for r in self.releases.values() if r.id not in self.hidden]

    def get_release(self, release_id: str) -> FakeRelease | None:
        return None if release_id in self.hidden else self.releases.get(release_id)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_release(path: Path, table: pa.Table, **overrides: Any) -> FakeRelease:
    pq.write_table(table, path)
    fields = {
        "id": path.stem,
        "dataset_id": "housing-2026-combined",
        "title": path.stem,
        "description": "",
        "form": "dp_aggregate",
        "artifact": str(path),
        "checksum": sha256(path),
    }
    fields.update(overrides)
    return FakeRelease(**fields)


#: Counts per district: Korean text, integers, floats, dates, booleans and missing values.
DISTRICTS = pa.table(
    {
        "sigungu": ["강남구", "노원구", "중랑구", "강서구"],
        "households": pa.array([120, 85, 85, 40], pa.int64()),
        "share": [0.25, 0.5, None, 1.5],
        "surveyed": [date(2025, 12, 1), date(2025, 11, 1), date(2025, 12, 1), None],
        "urban": [True, True, False, None],
    }
)


@pytest.fixture
def source() -> MemorySource:
    return MemorySource()


@pytest.fixture
def districts(tmp_path: Path, source: MemorySource) -> FakeRelease:
    return source.add(
        write_release(
            tmp_path / "districts.parquet",
            DISTRICTS,
            title="Old housing of benefit recipients by district",
            description="Households per 시군구, ε-differentially private counts.",
            parameters={"epsilon": 1.0},
            columns={"sigungu": "quasi_identifier", "households": "other"},
        )
    )


@pytest.fixture
def client(source: MemorySource) -> TestClient:
    # Server errors become 500 answers here, as they would for a real client.
    return TestClient(create_app(source), raise_server_exceptions=False)


def hide(source: MemorySource, release: FakeRelease) -> None:
    source.hidden.add(release.id)


__all__ = ["FakeRelease", "MemorySource", "replace", "sha256", "write_release"]


@dataclass(frozen=True)
class KeyVerdict:
    """Shaped like ``catalog.ApiKeyCheck``."""

    status: str
    owner: str | None = None
    key_id: str | None = None
    daily_quota: int | None = None
    scopes: tuple[str, ...] = ()


class MemoryKeys:
    """A double of the catalog's ``issue_api_key``/``check_api_key``."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Any]] = {}

    def issue_api_key(self, owner: str, *, actor: str, expires_at: datetime | None = None,
                      daily_quota: int | None = None, scopes=("open_data",)) -> str:
        import secrets

        secret = secrets.token_urlsafe(24) + "+/="  # portal keys carry URL-special characters
        key_id = f"k{len(self._keys) + 1}-{secrets.token_hex(4)}"
        self._keys[secret] = {"owner": owner, "key_id": key_id,
                              "expires_at": expires_at, "daily_quota": daily_quota,
                              "scopes": tuple(scopes), "revoked": False}
        return secret

    def revoke(self, secret: str) -> None:
        self._keys[secret]["revoked"] = True

    def check_api_key(self, secret: str) -> KeyVerdict:
        key = self._keys.get(secret)
        if key is None:
            return KeyVerdict("unknown")
        status = "valid"
        if key["revoked"]:
            status = "revoked"
        elif key["expires_at"] is not None and key["expires_at"] < datetime.now(UTC):
            status = "expired"
        return KeyVerdict(status, key["owner"], key["key_id"], key["daily_quota"], key["scopes"])


@pytest.fixture
def keys() -> MemoryKeys:
    return MemoryKeys()


class LiveServer:
    """The app behind uvicorn on a free loopback port, in a thread, for real HTTP clients."""

    def __init__(self, app) -> None:
        import socket

        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    def __enter__(self) -> LiveServer:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
