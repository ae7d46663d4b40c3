"""A release's metadata as a Frictionless Data Package, its CSV described by a Table Schema.

The resource's ``path`` is ``data.csv``, relative to the descriptor: the API serves the CSV
at ``/api/v1/datasets/{id}/data.csv`` beside ``datapackage.json``, so the descriptor works
from its URL, and a downloaded pair (saved under those names) validates offline too.
Constraints describe the released file as it is: ``required`` when no value is missing,
``minimum``/``maximum`` of ordered columns, ``enum`` for text with few distinct values.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from open_api.artifacts import ArtifactFacts, Column
from open_api.filters import _FLOAT_TYPES, _INTEGER_TYPES, _TIMESTAMP_TYPES
from open_api.licence import licence_for
from open_api.parameters import public_parameters
from open_api.profile import ColumnProfile, profile
from open_api.source import Release

CSV_NAME = "data.csv"


def table_type(column: Column) -> str:
    """The Table Schema type of a DuckDB column type.

    >>> [table_type(Column("c", t)) for t in ("BIGINT", "DECIMAL(9,2)", "VARCHAR", "DATE")]
    ['integer', 'number', 'string', 'date']
    """
    kind = column.type
    if kind in _INTEGER_TYPES:
        return "integer"
    if kind in _FLOAT_TYPES or kind.startswith("DECIMAL"):
        return "number"
    if kind == "BOOLEAN":
        return "boolean"
    if kind == "DATE":
        return "date"
    if kind in _TIMESTAMP_TYPES:
        return "datetime"
    if kind == "TIME":
        return "time"
    if kind == "VARCHAR":
        return "string"
    return "any"


def package_name(text: str) -> str:
    """A name the Data Package spec accepts: lower case letters, digits, ``-._``.

    >>> package_name("주거 2026/Housing")
    '2026-housing'
    """
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return name or "dataset"


def _json_bound(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _field(column: Column, facts: ArtifactFacts, found: ColumnProfile, classification: str | None
           ) -> dict[str, Any]:
    field: dict[str, Any] = {"name": column.name, "type": table_type(column)}
    if classification:
        field["description"] = f"catalog classification: {classification}"
    if field["type"] == "boolean":
        field["trueValues"], field["falseValues"] = ["true"], ["false"]
    constraints: dict[str, Any] = {"required": found.missing == 0 and facts.row_count > 0}
    if found.minimum is not None:
        constraints["minimum"] = _json_bound(found.minimum)
        constraints["maximum"] = _json_bound(found.maximum)
    if found.values is not None:
        constraints["enum"] = list(found.values)
    field["constraints"] = constraints
    return field


def data_package(release: Release, facts: ArtifactFacts, base_url: str) -> dict[str, Any]:
    """The descriptor of one release; ``base_url`` is the dataset's URL (for ``homepage``)."""
    licence = licence_for(release.parameters)
    found = profile(facts)
    licence_entry = {"name": licence["id"] or "other", "title": licence["title"]}
    if licence["url"]:
        licence_entry["path"] = licence["url"]
    return {
        "profile": "tabular-data-package",
        "name": package_name(release.id),
        "id": release.id,
        "title": release.title,
        "description": release.description or "",
        "homepage": base_url,
        "created": release.created_at.isoformat(),
        "licenses": [licence_entry],
        "sources": [{"title": f"catalog dataset {release.dataset_id}"}],
        "keywords": [release.form],
        "resources": [{
            "profile": "tabular-data-resource",
            "name": package_name(release.id),
            "path": CSV_NAME,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "header": True},
            "schema": {
                "fields": [
                    _field(c, facts, found[c.name], release.columns.get(c.name))
                    for c in facts.columns
                ],
                "missingValues": [""],
            },
            "pseudolink": {
                "form": release.form,
                "parameters": public_parameters(release.parameters),
                "artifact_sha256": release.checksum.lower(),
                "rows": facts.row_count,
            },
        }],
    }
