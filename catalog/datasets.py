"""Registered datasets, their column classification and DP bounds: the datasets service.

``DatasetInfo`` is what a dataset looks like to the commands that read it (DP queries,
releases). Registering one is ``dataset.register`` in the role matrix; declaring a
column's public bounds is ``bounds.set``.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from catalog.artefacts import local_path
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.models import CLASSIFICATIONS, ColumnBound, Dataset, DatasetColumn, Project
from catalog.storage import Storage, json_doc, one_of


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


def _file_digest(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of a readable file, else None (a catalog entry may name a file elsewhere)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


class DatasetService:
    """Datasets: registration with column classes and lineage, search, DP column bounds."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def register_dataset(self, dataset_id: str, *, title: str, path: str,
                         columns: dict[str, str], project_id: str | None, lineage: dict,
                         actor: str, description: str = "", sha256: str | None = None) -> None:
        """Create or replace a dataset's entry and its column classification.

        ``sha256`` is the file's digest, the dataset's identity for budgets; by default the
        lineage's ``file_sha256``, else the file's own digest when it can be read.
        """
        digest = sha256 or (lineage or {}).get("file_sha256") or _file_digest(path)
        for column, classification in columns.items():
            one_of(classification, CLASSIFICATIONS,
                   f"dataset {dataset_id!r}, column {column!r}: classification")
        lineage_doc = json_doc(lineage, f"lineage of dataset {dataset_id!r}")
        with self._storage.change(actor, "dataset.register", dataset_id,
                                  permission="dataset.register") as change:
            session = change.session
            if project_id is not None and session.get(Project, project_id) is None:
                raise CatalogError(f"dataset {dataset_id!r}: no project {project_id!r} "
                                   "in the catalog")
            dataset = session.get(Dataset, dataset_id)
            if dataset is None:
                dataset = Dataset(id=dataset_id)
                session.add(dataset)
            else:
                change.action = "dataset.update"
                dataset.columns.clear()
                # The old column rows must be gone before rows with the same names arrive.
                session.flush()
            dataset.title, dataset.description = title, description
            dataset.path = self._storage.stored(path)
            dataset.project_id, dataset.lineage = project_id, lineage_doc
            dataset.sha256 = digest
            dataset.updated_at = utcnow()
            dataset.columns.extend(
                DatasetColumn(name=name, position=i, classification=classification)
                for i, (name, classification) in enumerate(columns.items()))
            change.details = {"title": title, "project_id": project_id,
                              "columns": dict(columns), "lineage": lineage_doc,
                              "sha256": digest}

    def dataset(self, dataset_id: str) -> DatasetInfo | None:
        """A registered dataset (its file, columns and lineage), or None if unknown."""
        with self._storage.read() as session:
            found = session.scalars(select(Dataset).where(Dataset.id == dataset_id)
                                    .options(selectinload(Dataset.columns))).one_or_none()
            return None if found is None else dataset_info(found, self._storage.root)

    def search_datasets(self, text: str) -> list[DatasetInfo]:
        """Registered datasets matching ``text`` in their id, title, description or columns."""
        with self._storage.read() as session:
            return [dataset_info(d, self._storage.root)
                    for d in session.scalars(search_query(text))]

    def dataset_columns(self, dataset_id: str) -> dict[str, str]:
        """A dataset's columns and their classification, in registration order."""
        with self._storage.read() as session:
            dataset = session.scalars(select(Dataset).where(Dataset.id == dataset_id)
                                      .options(selectinload(Dataset.columns))).one_or_none()
            if dataset is None:
                raise CatalogError(f"no dataset {dataset_id!r} in the catalog")
            return {c.name: c.classification for c in dataset.columns}

    # -- DP column bounds ---------------------------------------------------------------

    def set_column_bounds(self, dataset_id: str, column: str, lower: float, upper: float, *,
                          actor: str) -> None:
        """Declare a numeric column's public bounds (DP sums and means clamp to them).

        Bounds must come from public knowledge (a benefit's legal maximum), never from
        the data, or they leak it.
        """
        for label, value in (("lower", lower), ("upper", upper)):
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise CatalogError(f"dataset {dataset_id!r}, column {column!r}: {label} bound "
                                   f"must be a finite number, got {value!r}")
        if not lower < upper:
            raise CatalogError(f"dataset {dataset_id!r}, column {column!r}: lower bound "
                               f"{lower:g} must be below upper bound {upper:g}")
        with self._storage.change(actor, "bounds.set", f"{dataset_id}/{column}",
                          permission="bounds.set") as change:
            dataset = change.session.get(Dataset, dataset_id)
            if dataset is None:
                raise CatalogError(f"no dataset {dataset_id!r} in the catalog")
            if column not in {c.name for c in dataset.columns}:
                raise CatalogError(f"dataset {dataset_id!r} has no column {column!r}")
            bound = change.session.get(ColumnBound, (dataset_id, column))
            if bound is None:
                change.session.add(ColumnBound(dataset_id=dataset_id, column=column,
                                               lower=float(lower), upper=float(upper)))
            else:
                change.details["previous"] = [bound.lower, bound.upper]
                bound.lower, bound.upper, bound.updated_at = float(lower), float(upper), utcnow()
            change.details.update({"lower": float(lower), "upper": float(upper)})

    def column_bounds(self, dataset_id: str) -> dict[str, tuple[float, float]]:
        with self._storage.read() as session:
            rows = session.scalars(select(ColumnBound).where(ColumnBound.dataset_id == dataset_id)
                                   .order_by(ColumnBound.column))
            return {r.column: (r.lower, r.upper) for r in rows}
