"""The exchange answers ``/healthz`` and ``/readyz`` like every pseudolink server (issue 24)."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from linkage.exchange import open_exchange


def test_exchange_is_ready_until_its_database_cannot_be_read(tmp_path):
    db = tmp_path / "exchange.db"
    app = open_exchange(f"sqlite:///{db}", tmp_path / "files", lambda *entry: None)
    http = TestClient(app)
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    with sqlite3.connect(db) as broken:
        broken.execute("DROP TABLE exchange_projects")
    answer = http.get("/readyz")
    assert answer.status_code == 503 and answer.json() == {"status": "not_ready"}
    assert answer.headers["retry-after"] == "30"
    assert http.get("/healthz").status_code == 200  # alive, though not ready
