"""``/healthz`` and ``/readyz`` on the open-data API (issue 24): a load balancer stops
sending consumers to a server whose catalog is not at the newest schema."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

import catalog
from open_api import create_app


def test_api_is_not_ready_once_its_catalog_is_behind_the_schema(tmp_path):
    db = tmp_path / "catalog.db"
    catalog.init_catalog(f"sqlite:///{db}")
    http = TestClient(create_app(f"sqlite:///{db}", root=tmp_path))
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    with sqlite3.connect(db) as behind:
        behind.execute("UPDATE alembic_version SET version_num = '0001'")
    answer = http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not_ready", "problems": 1}
    assert "catalog" not in answer.text.lower().replace("not_ready", "")  # no detail leaks
