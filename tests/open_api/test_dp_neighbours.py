"""What a DP answer tells an open-data consumer: only noisy values and declared parameters.

Two datasets that differ in one person must give answers that differ only where noise was
drawn; anything exact (a count of dropped rows, a path, a data-derived range) would tell the
neighbours apart with certainty, whatever epsilon says.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from anonymize.dp import sha256_file
from open_api import create_app
from tests.open_api.conftest import write_release
from tests.open_api.test_dp_query import MeteredSource

#: Fields of an answer (or of a grouped answer's row) that carry noise.
NOISY = ("value", "lower", "upper")

QUERIES = [
    {"statistic": "count", "epsilon": 0.01},
    {"statistic": "count", "by": ["sido"], "epsilon": 0.01},
    {"statistic": "sum", "column": "age", "epsilon": 0.01},
    {"statistic": "sum", "column": "age", "by": ["sido"], "epsilon": 0.01},
    {"statistic": "mean", "column": "age", "epsilon": 0.01},
    {"statistic": "variance", "column": "age", "epsilon": 0.01},
    {"statistic": "quantile", "column": "age", "quantile": 0.5, "epsilon": 0.01},
    {"statistic": "histogram", "column": "sido", "epsilon": 0.01},
]


def _people(with_target: bool) -> pd.DataFrame:
    """Some people with several rows (beyond the contribution bound of 1), and optionally
    one target person with six rows of their own."""
    rng = np.random.default_rng(7)
    ids = [f"L{i}" for i in range(300)] + ["L1", "L2"]  # two rows dropped by the bound
    frame = pd.DataFrame({"link_id": ids, "age": rng.integers(0, 90, len(ids)),
                          "sido": rng.choice(["서울", "부산"], len(ids))})
    if with_target:
        target = pd.DataFrame({"link_id": ["TARGET"] * 6, "age": [88] * 6,
                               "sido": ["부산"] * 6})
        frame = pd.concat([frame, target], ignore_index=True)
    return frame


def _client(tmp_path, name: str, frame: pd.DataFrame) -> TestClient:
    folder = tmp_path / name
    folder.mkdir()
    data = folder / "combined.parquet"
    frame.to_parquet(data)
    source = MeteredSource()
    source.budgets = {("housing", "alice"): 10.0}
    source.add(write_release(
        folder / "housing-dp.parquet",
        pa.table({"column": ["age", "sido"], "kind": ["numeric", "categorical"]}),
        id="housing-dp", dataset_id="housing",
        parameters={"dp_query": True, "data": str(data), "data_sha256": sha256_file(data),
                    "privacy_unit": "link_id", "max_contributions": 1,
                    "keys": {"sido": ["서울", "부산", "대구"]}, "columns": ["age", "sido"]}))
    return TestClient(create_app(source), raise_server_exceptions=False)


def _without_noise(doc):
    if isinstance(doc, dict):
        return {k: _without_noise(v) for k, v in doc.items() if k not in NOISY}
    if isinstance(doc, list):
        return [_without_noise(v) for v in doc]
    return doc


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q["statistic"] + "-by" * bool(q.get("by")))
def test_neighbouring_datasets_get_answers_identical_but_for_noisy_values(tmp_path, query):
    without = _client(tmp_path, "without", _people(False))
    with_target = _client(tmp_path, "with", _people(True))
    bodies = []
    for client in (without, with_target):
        r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                        json={"dataset": "housing-dp", **query})
        assert r.status_code == 200, r.text
        bodies.append(json.dumps(_without_noise(r.json()), sort_keys=True, ensure_ascii=False))
    assert bodies[0] == bodies[1]


def test_an_unavailable_dataset_error_never_names_the_microdata_file(tmp_path):
    client = _client(tmp_path, "gone", _people(False))
    data = tmp_path / "gone" / "combined.parquet"
    data.unlink()
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                    json={"dataset": "housing-dp", "statistic": "count", "epsilon": 0.1})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "dp_unavailable"
    assert str(tmp_path) not in r.text and "combined.parquet" not in r.text


def test_a_changed_microdata_file_error_never_names_it(tmp_path):
    client = _client(tmp_path, "changed", _people(False))
    _people(True).to_parquet(tmp_path / "changed" / "combined.parquet")
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": "good"},
                    json={"dataset": "housing-dp", "statistic": "count", "epsilon": 0.1})
    assert r.status_code == 503
    assert str(tmp_path) not in r.text and "combined.parquet" not in r.text
