"""POST /api/v1/dp/query: key-authenticated, charged before answering, refusals say why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from anonymize.dp import sha256_file
from open_api import create_app
from tests.open_api.conftest import FakeRelease, MemorySource, write_release


@dataclass(frozen=True)
class KeyCheck:
    status: str
    owner: str | None = None
    key_id: str | None = None
    daily_quota: int | None = None
    scopes: tuple[str, ...] = ()


class MeteredSource(MemorySource):
    """The catalog's DP face in memory: keys, bounds, budgets."""

    def __init__(self) -> None:
        super().__init__()
        self.keys = {"good": KeyCheck("valid", "alice", scopes=("open_data", "dp_query")),
                     "plain": KeyCheck("valid", "bob", scopes=("open_data",)),
                     "old": KeyCheck("expired", "carol", scopes=("dp_query",))}
        self.budgets = {("housing", "alice"): 1.0}
        self.ledger: list[float] = []

    def check_api_key(self, secret: str) -> KeyCheck:
        return self.keys.get(secret, KeyCheck("unknown"))

    def column_bounds(self, dataset_id: str) -> dict[str, tuple[float, float]]:
        return {"age": (0.0, 100.0)}

    def spend(self, dataset_id, consumer, epsilon, *, query, actor) -> float:
        total = self.budgets.get((dataset_id, consumer))
        if total is None:
            raise RuntimeError(f"consumer {consumer!r} has no privacy budget")
        left = total - sum(self.ledger)
        if epsilon > left + 1e-9:
            err = RuntimeError(f"refused: remaining budget {left:g}")
            err.remaining = left  # type: ignore[attr-defined]
            raise err
        self.ledger.append(epsilon)
        return left - epsilon


@pytest.fixture
def metered(tmp_path) -> tuple[TestClient, MeteredSource]:
    rng = np.random.default_rng(1)
    data = tmp_path / "combined.parquet"
    pd.DataFrame({"link_id": [f"L{i}" for i in range(500)],
                  "age": rng.integers(0, 90, 500),
                  "sido": rng.choice(["서울", "부산"], 500)}).to_parquet(data)
    source = MeteredSource()
    import pyarrow as pa
    manifest = write_release(
        tmp_path / "housing-dp.parquet",
        pa.table({"column": ["age", "sido"], "kind": ["numeric", "categorical"]}),
        id="housing-dp", dataset_id="housing",
        parameters={"dp_query": True, "data": str(data), "data_sha256": sha256_file(data),
                    "privacy_unit": "link_id", "max_contributions": 1,
                    "keys": {"sido": ["서울", "부산", "대구"]}, "columns": ["age", "sido"]})
    source.add(manifest)
    return TestClient(create_app(source), raise_server_exceptions=False), source


def test_count_by_region_answers_with_epsilon_and_interval(metered):
    client, source = metered
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                    json={"dataset": "housing-dp", "statistic": "count", "by": ["sido"],
                          "epsilon": 0.5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["epsilon"] <= 0.5 and body["delta"] == 0.0
    assert [row["sido"] for row in body["rows"]] == ["서울", "부산", "대구"]
    assert all(row["lower"] < row["value"] + 1 for row in body["rows"])
    assert body["budget_remaining"] == pytest.approx(0.5)
    assert source.ledger == [0.5]


def test_bearer_key_works_and_mean_has_interval(metered):
    client, _ = metered
    r = client.post("/api/v1/dp/query", headers={"Authorization": "Bearer good"},
                    json={"dataset": "housing-dp", "statistic": "mean", "column": "age",
                          "epsilon": 0.5})
    assert r.status_code == 200, r.text
    assert r.json()["lower"] <= r.json()["value"] <= r.json()["upper"]


def test_overspend_is_refused_with_the_remaining_budget_and_no_answer(metered):
    client, source = metered
    query = {"dataset": "housing-dp", "statistic": "count", "epsilon": 0.6}
    assert client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                       json=query).status_code == 200
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"}, json=query)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "budget_exceeded"
    assert "remaining budget 0.4" in r.json()["error"]["message"]
    assert "value" not in r.json()
    assert source.ledger == [0.6]


@pytest.mark.parametrize("headers,status,code", [
    ({}, 401, "unauthorized"),
    ({"X-API-Key": "nope"}, 401, "invalid_api_key"),
    ({"X-API-Key": "old"}, 401, "invalid_api_key"),
    ({"X-API-Key": "plain"}, 403, "forbidden"),
])
def test_keys_are_required_valid_and_scoped(metered, headers, status, code):
    client, source = metered
    r = client.post("/api/v1/dp/query", headers=headers,
                    json={"dataset": "housing-dp", "statistic": "count", "epsilon": 0.1})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert source.ledger == []


@pytest.mark.parametrize("query,status,code", [
    ({"dataset": "nope", "statistic": "count", "epsilon": 0.1}, 404, "not_found"),
    ({"dataset": "housing-dp", "statistic": "sum", "column": "sido", "epsilon": 0.1},
     400, "invalid_parameter"),
    ({"dataset": "housing-dp", "statistic": "count", "epsilon": -1}, 400,
     "invalid_parameter"),
    ({"dataset": "housing-dp", "statistic": "median", "epsilon": 0.1}, 400,
     "invalid_parameter"),
])
def test_bad_queries_get_json_errors_and_cost_nothing(metered, query, status, code):
    client, source = metered
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"}, json=query)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert source.ledger == []


def test_plain_releases_are_not_open_to_dp_queries(metered, tmp_path):
    client, source = metered
    import pyarrow as pa
    source.add(write_release(tmp_path / "plain.parquet", pa.table({"x": [1]}), id="plain"))
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                    json={"dataset": "plain", "statistic": "count", "epsilon": 0.1})
    assert r.status_code == 404


__all__ = ["FakeRelease"]
