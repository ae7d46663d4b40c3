"""A catalog with a researcher, two output checkers and an approved secure-room grant;
a researcher's room on disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import catalog
from analysis_env.hub import rooms
from tests.accounts import admin
from tests.conftest import skip_unless_ci

PASSWORD = "correct horse battery staple"


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def cat(catalog_url: str) -> Iterator[catalog.Catalog]:
    catalog.init_catalog(catalog_url)
    with catalog.Catalog.connect(catalog_url) as connected:
        admin(connected)  # the bootstrap administrator records everyone else
        for user, role in (("kim", "researcher"), ("lee", "researcher"),
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


@dataclass
class ResearcherRoom:
    """A researcher's room on disk as the hub makes it, outside any hub."""

    workspace: Path
    user: str
    uid: int

    @property
    def room_root(self) -> Path:
        return self.workspace / "room"

    @property
    def hub_dir(self) -> Path:
        return self.workspace / "hub"

    @property
    def outputs(self) -> Path:
        return self.room_root / self.user / "outputs"

    def save(self, name: str, data: bytes | str, owner: int | None = None) -> Path:
        """Write ``outputs/name`` as the researcher would (owned by their uid)."""
        path = self.outputs / name
        for parent in reversed(path.relative_to(self.outputs).parents[:-1]):
            (self.outputs / parent).mkdir(exist_ok=True)
            os.chown(self.outputs / parent, self.uid, self.uid)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chown(path, self.uid if owner is None else owner, self.uid)
        return path

    def other(self, user: str) -> ResearcherRoom:
        """Another researcher's room beside this one."""
        uid = rooms.uid_for(self.hub_dir, self.uid - 1000, user)
        rooms.prepare_room(self.room_root, user, uid, {})
        return ResearcherRoom(self.workspace, user, uid)


@pytest.fixture
def researcher_room(cat: catalog.Catalog) -> Iterator[ResearcherRoom]:
    """kim's room in a fresh workspace under /tmp (traversable, unlike pytest's tmp_path)."""
    if os.geteuid() != 0:
        skip_unless_ci("rooms belong to researchers' own uids; making them needs root")
    workspace = Path(tempfile.mkdtemp(prefix="pl-room-", dir="/tmp"))
    os.chmod(workspace, 0o711)
    try:
        uid = rooms.uid_for(workspace / "hub", 31000 + os.getpid() % 4000 * 2, "kim")
        rooms.prepare_room(workspace / "room", "kim", uid, {})
        os.chmod(workspace / "room", 0o711)
        yield ResearcherRoom(workspace, "kim", uid)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
