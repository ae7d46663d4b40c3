"""The room mounts a dataset from where the workspace lies now (issue 24): the catalog
stores files inside the workspace relative to it, and the hub knows its workspace."""

from __future__ import annotations

from pathlib import Path

import catalog
from analysis_env.hub import access
from tests.analysis_env.conftest import grant


def _stored_path(url: str) -> str:
    """The dataset's path as the database holds it."""
    from sqlalchemy import text

    from catalog.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return db.execute(text("SELECT path FROM datasets WHERE id = 'housing-combined'")
                              ).scalar_one()
    finally:
        engine.dispose()


def test_an_approved_extract_recorded_inside_the_workspace_is_found_from_it(
        cat, extract: Path, catalog_url: str, tmp_path: Path) -> None:
    with catalog.Catalog.connect(catalog_url, root=tmp_path) as at_root:
        at_root.register_dataset(
            "housing-combined", title="Combined", path=str(extract),
            columns={"link_id": "other", "ssis__sido": "quasi_identifier",
                     "ssis__income": "sensitive", "ssis__benefit_type": "sensitive"},
            project_id="housing", lineage={}, actor="root")
        assert _stored_path(catalog_url) == "data/combined.parquet"
        grant(at_root, "r1", "kim", ["ssis__sido"])  # the officer's risk report reads it
    assert access.approved_extracts(catalog_url, "kim", root=tmp_path) == {
        "housing-combined": (extract, ["ssis__sido"])}
