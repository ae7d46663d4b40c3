"""Commands find a dataset's file through the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

import catalog


def test_dataset_tells_its_file_columns_and_lineage(cat: catalog.Catalog, dataset: str) -> None:
    info = cat.dataset(dataset)
    assert isinstance(info, catalog.DatasetInfo)
    assert (info.id, info.path, info.project_id) == (
        "housing-combined", "/data/combined.parquet", "housing-2026")
    assert info.columns == {"link_id": "other", "ssis__sido": "quasi_identifier",
                            "ssis__benefit_type": "sensitive"}
    assert list(info.columns) == ["link_id", "ssis__sido", "ssis__benefit_type"]
    assert info.lineage == {"holders": ["ssis", "building"]}
    assert info.title == "Combined housing data"


def test_unknown_dataset_is_none(cat: catalog.Catalog) -> None:
    assert cat.dataset("nope") is None


def test_reregistered_dataset_shows_its_new_file(cat: catalog.Catalog, dataset: str) -> None:
    cat.register_dataset(dataset, title="v2", path="/data/v2.parquet", columns={"x": "other"},
                         project_id=None, lineage={}, actor="agency")
    info = cat.dataset(dataset)
    assert (info.path, info.columns, info.project_id) == ("/data/v2.parquet", {"x": "other"},
                                                         None)
