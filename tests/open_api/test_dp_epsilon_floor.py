"""POST /api/v1/dp/query with an epsilon too small to use is a 400 naming the smallest
allowed, and spends nothing (it was a 500 from OpenDP's refusal of the scale)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import catalog
from anonymize.dp.schema import MIN_EPSILON
from open_api import create_app
from tests.open_api.test_dp_query_catalog import open_dataset


@pytest.fixture(scope="module")
def metered(tmp_path_factory) -> tuple[TestClient, str, str]:
    tmp_path = tmp_path_factory.mktemp("dp-floor")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog.init_catalog(url)
    key = open_dataset(url, tmp_path, budget=5.0)
    return TestClient(create_app(url), raise_server_exceptions=False), url, key


@pytest.mark.parametrize(("statistic", "epsilon"), [
    ("count", 1e-300), ("sum", 1e-300), ("mean", 1e-300), ("quantile", 1e-300),
    ("variance", 1e-300), ("variance", 1e-12),
])
def test_too_small_an_epsilon_is_a_400_naming_the_smallest_and_spends_nothing(
        metered, statistic, epsilon):
    client, url, key = metered
    body = {"dataset": "housing-dp", "statistic": statistic, "epsilon": epsilon}
    if statistic != "count":
        body["column"] = "ssis__income"
    answer = client.post("/api/v1/dp/query", headers={"Authorization": f"Bearer {key}"},
                         json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["message"].endswith(f"the smallest allowed, {MIN_EPSILON:g}")
    with catalog.Catalog.connect(url) as cat:
        assert cat.budget_ledger("housing", "alice") == []


def test_a_variance_on_wide_bounds_is_answered(metered):
    client, _, key = metered
    answer = client.post("/api/v1/dp/query", headers={"Authorization": f"Bearer {key}"},
                         json={"dataset": "housing-dp", "statistic": "variance",
                               "column": "ssis__income", "epsilon": 0.5})
    assert answer.status_code == 200, answer.text
