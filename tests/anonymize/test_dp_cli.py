"""`pseudolink dp enable|query` and `pseudolink release dp`, on a real catalog, served by the
open-data API: budgets charged before answers, refusals say why, the table's epsilon public."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import catalog
from open_api import create_app
from pseudolink.cli import app
from pseudolink.settings import workspace
from tests.accounts import log_in

SIDO = ["서울특별시", "부산광역시", "경기도"]
BENEFITS = ["기초생활보장", "기초연금", "장애인복지"]


@pytest.fixture
def space(tmp_path, monkeypatch):
    space = workspace(tmp_path / "w")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame({
        "link_id": [f"L{i // 2}" for i in range(n)],  # two rows per person
        "ssis__sido": rng.choice(SIDO, n),
        "ssis__benefit_type": rng.choice(BENEFITS, n),
        "ssis__birth_year": rng.integers(1930, 2020, n),
        "ssis__income": rng.gamma(3.0, 1e7, n),
    })
    data = space.data / "combined.parquet"
    frame.to_parquet(data, index=False)
    with catalog.Catalog.connect(space.database_url) as cat:
        # The CLI commands below act as this logged-in privacy officer.
        log_in(cat, monkeypatch, "po", "privacy_officer")
        cat.register_dataset("housing", title="Combined housing", path=str(data),
                             columns={c: "other" for c in frame.columns}, project_id=None,
                             lineage={}, actor="po")
    return space


def run(*args: str):
    return CliRunner().invoke(app, [*args], catch_exceptions=False)


def enable(space, tmp_path):
    spec = tmp_path / "dp.toml"
    spec.write_text("""
id = "housing-dp"
max_contributions = 2
[keys]
ssis__sido = "sido"
ssis__benefit_type = ["기초생활보장", "기초연금", "장애인복지"]
[bounds]
ssis__income = [0, 200000000]
ssis__birth_year = [1900, 2026]
[budgets]
public = 1.0
alice = 2.0
""", encoding="utf-8")
    result = run("dp", "enable", "--dataset", "housing", "--spec", str(spec),
                 "--workdir", str(space.root))
    assert result.exit_code == 0, result.output


def test_dp_enable_declares_bounds_budgets_and_a_public_manifest(space, tmp_path):
    enable(space, tmp_path)
    with catalog.Catalog.connect(space.database_url) as cat:
        assert cat.column_bounds("housing") == {"ssis__birth_year": (1900.0, 2026.0),
                                                "ssis__income": (0.0, 2e8)}
        assert cat.budget("housing", "alice").epsilon_total == 2.0
        release = cat.get_release("housing-dp")
    assert release.form == "dp_aggregate" and release.parameters["dp_query"] is True
    assert len(release.parameters["keys"]["ssis__sido"]) == 17
    manifest = pd.read_parquet(release.artifact)
    assert set(manifest["column"]) == {"ssis__sido", "ssis__benefit_type", "ssis__income",
                                       "ssis__birth_year"}
    client = TestClient(create_app(space.database_url))
    shown = client.get("/api/v1/datasets/housing-dp").text
    assert "combined.parquet" not in shown and "data_sha256" not in shown


def test_dp_query_charges_then_answers_and_refuses_overspend(space, tmp_path):
    enable(space, tmp_path)
    result = run("dp", "query", "--dataset", "housing", "--statistic", "mean",
                 "--column", "ssis__income", "--epsilon", "0.6", "--workdir", str(space.root))
    assert result.exit_code == 0, result.output
    assert "95% interval" in result.output and "epsilon 0.6" in result.output
    assert "budget remaining 0.4" in result.output
    by = run("dp", "query", "--dataset", "housing-dp", "--statistic", "count", "--by",
             "ssis__sido", "--by", "ssis__benefit_type", "--epsilon", "0.3",
             "--workdir", str(space.root))
    assert by.exit_code == 0, by.output
    assert "부산광역시" in by.output
    refused = CliRunner().invoke(app, ["dp", "query", "--dataset", "housing", "--statistic",
                                       "count", "--epsilon", "0.5", "--workdir",
                                       str(space.root)])
    assert refused.exit_code != 0
    assert "remaining budget 0.1" in str(refused.exception)
    with catalog.Catalog.connect(space.database_url) as cat:
        assert cat.budget("housing", "public").epsilon_spent == pytest.approx(0.9)
        assert len(cat.budget_ledger("housing", "public")) == 2


def test_api_answers_with_a_catalog_key_and_charges_its_owner(space, tmp_path):
    enable(space, tmp_path)
    with catalog.Catalog.connect(space.database_url) as cat:
        key = cat.issue_api_key("alice", actor="root", scopes=("open_data", "dp_query"))
        plain = cat.issue_api_key("bob", actor="root", scopes=("open_data",))
    client = TestClient(create_app(space.database_url))
    query = {"dataset": "housing-dp", "statistic": "quantile", "column": "ssis__birth_year",
             "quantile": 0.5, "epsilon": 1.5}
    r = client.post("/api/v1/dp/query", headers={"X-API-Key": key}, json=query)
    assert r.status_code == 200, r.text
    assert 1900 <= r.json()["value"] <= 2026 and r.json()["budget_remaining"] == 0.5
    again = client.post("/api/v1/dp/query", headers={"X-API-Key": key}, json=query)
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "budget_exceeded"
    assert "remaining budget 0.5" in again.json()["error"]["message"]
    denied = client.post("/api/v1/dp/query", headers={"X-API-Key": plain}, json=query)
    assert denied.json()["error"]["code"] == "forbidden"
    with catalog.Catalog.connect(space.database_url) as cat:
        assert cat.budget("housing", "alice").epsilon_spent == pytest.approx(1.5)


TABLE = """
[table]
id = "recipients-by-area"
title = "Recipients by 시도, benefit type and age band"
epsilon = 0.8
consumer = "public"
max_contributions = 2

[[dimensions]]
column = "ssis__sido"
keys = "sido"

[[dimensions]]
column = "ssis__benefit_type"
keys = ["기초생활보장", "기초연금", "장애인복지"]

[[dimensions]]
name = "age_band"
column = "ssis__birth_year"
hierarchy = "age_band"
width = 20
top = 80
reference_year = 2026
"""


def test_release_dp_table_is_charged_recorded_and_served(space, tmp_path):
    with catalog.Catalog.connect(space.database_url) as cat:
        cat.set_budget("housing", "public", 1.0, actor="po")
    spec = tmp_path / "table.toml"
    spec.write_text(TABLE, encoding="utf-8")
    result = run("release", "dp", "--dataset", "housing", "--spec", str(spec),
                 "--workdir", str(space.root))
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(space.releases / "recipients-by-area.parquet")
    assert list(table.columns) == ["ssis__sido", "ssis__benefit_type", "age_band", "count"]
    assert len(table) == 17 * 3 * 5  # every declared cell, even the empty ones
    assert (table["count"] >= 0).all()
    seoul = table[table["ssis__sido"] == "서울특별시"]["count"].sum()
    assert seoul == pytest.approx(1000, abs=150)  # 2 rows per person, 2 kept; ~3000/3 rows
    with catalog.Catalog.connect(space.database_url) as cat:
        release = cat.get_release("recipients-by-area")
        assert cat.budget("housing", "public").epsilon_spent == pytest.approx(0.8)
    assert release.form == "dp_aggregate"
    assert release.parameters["epsilon"] <= 0.8 and release.parameters["accuracy_95"] > 0
    client = TestClient(create_app(space.database_url))
    meta = client.get("/api/v1/datasets/recipients-by-area")
    assert meta.status_code == 200 and "0.8" in meta.text and "accuracy_95" in meta.text
    rows = client.get("/api/v1/datasets/recipients-by-area/rows",
                      params={"ssis__sido": "부산광역시", "limit": 100})
    assert rows.status_code == 200, rows.text
    # Overspending the public budget is refused before any noise, and nothing is replaced.
    again = CliRunner().invoke(app, ["release", "dp", "--dataset", "housing", "--spec",
                                     str(spec), "--id", "second", "--workdir",
                                     str(space.root)])
    assert again.exit_code != 0 and "remaining budget 0.2" in str(again.exception)
    assert not (space.releases / "second.parquet").exists()


def test_dp_budget_sets_and_shows_what_is_left(space):
    set_it = run("dp", "budget", "--dataset", "housing", "--consumer", "alice", "--epsilon",
                 "3", "--workdir", str(space.root))
    assert set_it.exit_code == 0, set_it.output
    assert "epsilon total 3, spent 0, remaining 3" in set_it.output
    none = CliRunner().invoke(app, ["dp", "budget", "--dataset", "housing", "--consumer", "x",
                                    "--workdir", str(space.root)])
    assert none.exit_code == 2 and "has no budget" in none.output
