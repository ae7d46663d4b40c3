"""A catalog with a researcher, two output checkers and an approved secure-room grant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import catalog

PASSWORD = "correct horse battery staple"


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def cat(catalog_url: str) -> Iterator[catalog.Catalog]:
    catalog.init_catalog(catalog_url)
    with catalog.Catalog.connect(catalog_url) as connected:
        for user, role in (("root", "admin"), ("kim", "researcher"), ("lee", "researcher"),
                           ("po1", "privacy_officer"), ("po2", "privacy_officer")):
            connected.record_user(user, role=role, actor="root")
        yield connected


@pytest.fixture
def extract(tmp_path: Path, cat: catalog.Catalog) -> Path:
    """A combined extract with an identifier column nobody is granted."""
    path = tmp_path / "data" / "combined.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"link_id": ["a", "b", "c"], "ssis__sido": ["서울", "서울", "부산"],
                             "ssis__income": [100, 200, 300],
                             "ssis__benefit_type": ["x", "y", "x"]}), path)
    cat.record_project("housing", purpose="scientific_research", mode="exact",
                       spec={"project": {"id": "housing"}}, actor="root")
    cat.register_dataset("housing-combined", title="Combined", path=str(path),
                         columns={"link_id": "other", "ssis__sido": "quasi_identifier",
                                  "ssis__income": "sensitive", "ssis__benefit_type": "sensitive"},
                         project_id="housing", lineage={}, actor="root")
    return path


def grant(cat: catalog.Catalog, request_id: str, user: str, columns: list[str],
          days: float = 30) -> None:
    """Carry a secure-room request through the catalog workflow to active."""
    cat.create_request(request_id, dataset_id="housing-combined", columns=columns,
                       release_form="secure_room", purpose="scientific_research",
                       lawful_basis="PIPA 28-2", researchers=[user], setting="secure room",
                       outputs="aggregates via the airlock",
                       ends_at=datetime.now(UTC) + timedelta(days=days), actor=user)
    cat.submit_request(request_id, actor=user)
    cat.start_review(request_id, actor="po1")
    cat.compute_risk_report(request_id, actor="po1")
    cat.decide_request(request_id, "approve", reason="fine", actor="po1")
    cat.activate_request(request_id, actor="po1")
