"""Releases as CKAN packages and resources: one package per release, one CSV resource each.

A release's id is its CKAN package name, package id and resource id alike, so that every
client idiom (``package_show?id=<name>``, ``datastore_search?resource_id=<id>``) finds it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from open_api.artifacts import Column
from open_api.filters import _FLOAT_TYPES, _INTEGER_TYPES, _TIMESTAMP_TYPES
from open_api.licence import licence_for
from open_api.parameters import public_parameters
from open_api.source import Release


def ckan_time(moment: datetime) -> str:
    """CKAN's timestamps: UTC, ISO 8601 without an offset.

    >>> ckan_time(datetime(2026, 3, 1, 18, 0, tzinfo=UTC))
    '2026-03-01T18:00:00'
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def datastore_type(column: Column) -> str:
    """The DataStore (PostgreSQL) type name CKAN reports for a column."""
    if column.type in _INTEGER_TYPES:
        return "int"
    if column.type in _FLOAT_TYPES or column.type.startswith("DECIMAL"):
        return "numeric"
    if column.type == "BOOLEAN":
        return "bool"
    if column.type == "DATE":
        return "date"
    if column.type in _TIMESTAMP_TYPES:
        return "timestamp"
    if column.type == "TIME":
        return "time"
    return "text"


def resource_dict(release: Release, site: str) -> dict[str, Any]:
    quoted = quote(release.id, safe="")
    return {
        "id": release.id,
        "package_id": release.id,
        "name": release.title,
        "description": release.description or "",
        "format": "CSV",
        "mimetype": "text/csv",
        "url": f"{site}/datastore/dump/{quoted}",
        "url_type": "datastore",
        "datastore_active": True,
        "state": "active",
        "position": 0,
        "created": ckan_time(release.created_at),
        "last_modified": ckan_time(release.created_at),
        # The SHA-256 the catalog recorded and the API checks before serving a byte.
        "hash": release.checksum.lower(),
    }


def organization_dict(name: str, title: str, *, package_count: int | None = None
                      ) -> dict[str, Any]:
    """The publishing organisation in CKAN's shape (one per site: the agency).

    >>> organization_dict("agency", "Agency")["is_organization"]
    True
    """
    organization: dict[str, Any] = {
        "id": name, "name": name, "title": title, "display_name": title,
        "description": "", "type": "organization", "is_organization": True,
        "state": "active", "approval_status": "approved", "image_url": "",
        "created": "2026-01-01T00:00:00",
    }
    if package_count is not None:
        organization["package_count"] = package_count
    return organization


def package_dict(release: Release, site: str,
                 organization: dict[str, Any] | None = None) -> dict[str, Any]:
    licence = licence_for(release.parameters)
    created = ckan_time(release.created_at)
    extras = [
        {"key": "release_form", "value": release.form},
        {"key": "release_parameters",
         "value": json.dumps(public_parameters(release.parameters), sort_keys=True,
                             ensure_ascii=False)},
        {"key": "source_dataset", "value": release.dataset_id},
        {"key": "artifact_sha256", "value": release.checksum.lower()},
    ]
    if release.expires_at is not None:
        extras.append({"key": "expires_at", "value": ckan_time(release.expires_at)})
    return {
        "id": release.id,
        "name": release.id,
        "title": release.title,
        "notes": release.description or "",
        "type": "dataset",
        "state": "active",
        "private": False,
        "license_id": licence["id"] or "other",
        "license_title": licence["title"],
        "license_url": licence["url"] or "",
        "metadata_created": created,
        "metadata_modified": created,
        "url": f"{site}/api/v1/datasets/{quote(release.id, safe='')}",
        "organization": organization,
        "owner_org": organization["id"] if organization else None,
        "groups": [],
        "tags": [{"name": release.form, "display_name": release.form}],
        "num_tags": 1,
        "extras": extras,
        "resources": [resource_dict(release, site)],
        "num_resources": 1,
    }
