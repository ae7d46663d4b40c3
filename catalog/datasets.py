"""What a dataset looks like to the commands that read it (DP queries, releases)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.models import Dataset


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: where its file is, how its columns are classified, its origin.

    ``path`` is the agency's own storage: commands read it, the public faces never show it.
    """

    id: str
    title: str
    description: str
    path: str
    project_id: str | None
    columns: dict[str, str]
    lineage: dict[str, Any]


def dataset_info(dataset: Dataset) -> DatasetInfo:
    return DatasetInfo(
        id=dataset.id,
        title=dataset.title,
        description=dataset.description,
        path=dataset.path,
        project_id=dataset.project_id,
        columns={column.name: column.classification for column in dataset.columns},
        lineage=dict(dataset.lineage),
    )
