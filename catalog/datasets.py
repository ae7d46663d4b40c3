"""What a dataset looks like to the commands that read it (DP queries, releases)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from catalog.artefacts import local_path
from catalog.models import Dataset, DatasetColumn


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
    #: The file's digest at registration: a release reads the file only if it still matches.
    sha256: str | None = None


def dataset_info(dataset: Dataset, root: str | Path | None = None) -> DatasetInfo:
    """The dataset; with the workspace ``root``, ``path`` is where its file lies now."""
    return DatasetInfo(
        id=dataset.id,
        title=dataset.title,
        description=dataset.description,
        path=dataset.path if root is None else str(local_path(dataset.path, root)),
        project_id=dataset.project_id,
        columns={column.name: column.classification for column in dataset.columns},
        lineage=dict(dataset.lineage),
        sha256=dataset.sha256,
    )


def search_query(text: str) -> Select[tuple[Dataset]]:
    """Datasets whose id, title, description or a column name contains ``text`` (any case)."""
    pattern = f"%{text.strip().lower()}%"
    in_columns = select(DatasetColumn.dataset_id).where(
        DatasetColumn.name.ilike(pattern))
    return (select(Dataset)
            .where(or_(Dataset.id.ilike(pattern), Dataset.title.ilike(pattern),
                       Dataset.description.ilike(pattern), Dataset.id.in_(in_columns)))
            .options(selectinload(Dataset.columns))
            .order_by(Dataset.id))
