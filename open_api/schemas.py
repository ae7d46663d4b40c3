"""Response shapes of the native face, so that ``/openapi.json`` describes what is sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found.")
    message: str = Field(description="What went wrong, for a person.")
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Links(BaseModel):
    metadata: str
    rows: str
    csv: str


class DatasetSummary(BaseModel):
    id: str
    title: str
    description: str
    form: str
    parameters: dict[str, Any]
    created_at: datetime
    row_count: int | None = Field(description="None when the data is withheld (see status).")
    status: str = Field(description="available, or unavailable when its data fails its checks.")
    links: Links


class DatasetList(BaseModel):
    count: int
    datasets: list[DatasetSummary]


class ColumnSchema(BaseModel):
    name: str
    type: str = Field(description="Type of the column in the Parquet artifact (DuckDB name).")
    classification: str | None = Field(description="The catalog's column classification.")


class Licence(BaseModel):
    id: str | None
    title: str
    url: str | None


class DatasetMetadata(BaseModel):
    id: str
    title: str
    description: str
    form: str
    parameters: dict[str, Any] = Field(description="Release parameters, e.g. epsilon or k.")
    provenance: dict[str, str] = Field(description="Where the release comes from: dataset_id.")
    released_at: datetime
    expires_at: datetime | None
    checksum: dict[str, str] = Field(description="Checksum of the artifact: algorithm, value.")
    licence: Licence
    row_count: int
    columns: list[ColumnSchema]
    links: Links


class RowsPage(BaseModel):
    dataset: str
    total: int = Field(description="Rows matching the filters, before paging.")
    limit: int
    offset: int
    rows: list[dict[str, Any]]
