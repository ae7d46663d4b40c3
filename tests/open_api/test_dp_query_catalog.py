"""POST /api/v1/dp/query on the real catalog: SQLite end to end, and 100 concurrent calls
against one budget on PostgreSQL that never spend more than the budget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import catalog
from anonymize.dp import QuerySpec, sha256_file
from open_api import create_app
from tests.accounts import admin, officer
from tests.conftest import fresh_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL catalog with a random name, dropped afterwards."""
    with fresh_postgres_database("pseudolink_test_dp") as url:
        catalog.init_catalog(url)
        yield url


def open_dataset(url: str, tmp_path, budget: float) -> str:
    """A dataset open to DP queries, as `pseudolink dp enable` leaves it; returns a key."""
    rng = np.random.default_rng(5)
    data = tmp_path / "combined.parquet"
    pd.DataFrame({"link_id": [f"L{i}" for i in range(2000)],
                  "ssis__sido": rng.choice(["서울특별시", "부산광역시"], 2000),
                  "ssis__income": rng.gamma(3.0, 1e7, 2000)}).to_parquet(data)
    spec = QuerySpec.from_dict({"keys": {"ssis__sido": "sido"},
                                "bounds": {"ssis__income": [0, 2e8]}}, "test")
    manifest = tmp_path / "housing-dp.parquet"
    spec.manifest().to_parquet(manifest)
    with catalog.Catalog.connect(url) as cat:
        officer(cat, "po")
        cat.register_dataset("housing", title="Housing", path=str(data), project_id=None,
                             columns={"link_id": "other", "ssis__sido": "quasi_identifier",
                                      "ssis__income": "sensitive"}, lineage={}, actor="po")
        cat.set_column_bounds("housing", "ssis__income", 0, 2e8, actor="po")
        cat.set_budget("housing", "alice", budget, actor="po")
        cat.record_release("housing-dp", dataset_id="housing", form="dp_aggregate",
                           title="DP queries", artifact=str(manifest),
                           checksum=sha256_file(manifest), actor="po",
                           parameters={"dp_query": True, "privacy_unit": "link_id",
                                       "max_contributions": 1, "keys": spec.schema.keys,
                                       "columns": spec.columns, "data": str(data),
                                       "data_sha256": sha256_file(data)})
        return cat.issue_api_key("alice", actor=admin(cat), scopes=("open_data", "dp_query"))


def test_sqlite_catalog_answers_sums_by_region_and_records_the_spend(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog.init_catalog(url)
    key = open_dataset(url, tmp_path, budget=1.0)
    client = TestClient(create_app(url))
    r = client.post("/api/v1/dp/query", headers={"Authorization": f"Bearer {key}"},
                    json={"dataset": "housing-dp", "statistic": "sum", "column": "ssis__income",
                          "by": ["ssis__sido"], "epsilon": 0.4})
    assert r.status_code == 200, r.text
    rows = {row["ssis__sido"]: row for row in r.json()["rows"]}
    jeju = rows["제주특별자치도"]  # declared but absent: a noisy zero
    assert len(rows) == 17 and jeju["lower"] <= jeju["value"] <= jeju["upper"]
    # A 95% interval misses the true zero one run in twenty, so the test holds the
    # noise to its scale instead: beyond five interval widths has odds below e^-30.
    assert abs(jeju["value"]) < 5 * (jeju["upper"] - jeju["lower"])
    with catalog.Catalog.connect(url) as cat:
        ledger = cat.budget_ledger("housing", "alice")
    assert [e["epsilon"] for e in ledger] == [0.4]
    assert ledger[0]["query"]["statistic"] == "sum" and ledger[0]["actor"] == "api:alice"


@pytest.mark.postgres
def test_budget_never_overspent_under_100_concurrent_queries(postgres_url, tmp_path):
    key = open_dataset(postgres_url, tmp_path, budget=1.0)
    app = create_app(postgres_url)
    client = TestClient(app)
    query = {"dataset": "housing-dp", "statistic": "count", "by": ["ssis__sido"],
             "epsilon": 0.03}
    client.post("/api/v1/dp/query", headers={"X-API-Key": "warm-up"}, json=query)

    def ask(_: int):
        r = client.post("/api/v1/dp/query", headers={"X-API-Key": key}, json=query)
        return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(ask, range(100)))
    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {200: 33, 403: 67}, statuses
    for status, body in outcomes:
        if status == 403:
            assert body["error"]["code"] == "budget_exceeded"
            assert "remaining budget" in body["error"]["message"]
    with catalog.Catalog.connect(postgres_url) as cat:
        spent = cat.budget("housing", "alice").epsilon_spent
        ledger = cat.budget_ledger("housing", "alice")
    assert spent <= 1.0 + 1e-9
    assert len(ledger) == 33 and spent == pytest.approx(33 * 0.03)
