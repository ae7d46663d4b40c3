"""The project spec (DESIGN 5) that links the two generated files, ready for ``project create``.

``sex`` travels as an attribute of ssis, so it cannot also be an identifier column there: the
name+dob+sex recipe takes sex from the RRN instead, as it does for the building register,
which has no dob or sex column at all.
"""

from __future__ import annotations

import tomllib

from linkage.spec import ProjectSpec

PROJECT_ID = "synth-housing"
HOLDERS = (
    {"id": "ssis", "record_id": "record_id",
     "identifiers": {"name": "name", "rrn": "rrn", "dob": "dob", "phone": "phone"},
     "attributes": ["birth_year", "sex", "sido", "sigungu", "household_size", "income",
                    "benefit_type", "benefit_amount"]},
    {"id": "building", "record_id": "record_id",
     "identifiers": {"owner_name": "name", "owner_rrn": "rrn", "owner_phone": "phone"},
     "attributes": ["building_use", "structure", "built_year", "floor_area", "sido",
                    "sigungu"]},
)
RECIPES = (("rrn",), ("name", "dob", "sex"), ("name", "phone"))


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def project_toml(fmt: str) -> str:
    """The spec as TOML text, validated by the same parser ``project create`` uses.

    >>> "[[recipes]]" in project_toml("parquet")
    True
    """
    lines = [
        f"# Project spec for the synthetic files ssis.{fmt} and building.{fmt}.",
        "# Written by `pseudolink synth-data`; all data in those files is fake.",
        "",
        "[project]",
        f'id = "{PROJECT_ID}"',
        'purpose = "scientific_research"',
        'mode = "exact"',
    ]
    for holder in HOLDERS:
        identifiers = ", ".join(f'{column} = "{kind}"'
                                for column, kind in holder["identifiers"].items())
        lines += ["", "[[holders]]", f'id = "{holder["id"]}"',
                  f'record_id = "{holder["record_id"]}"',
                  f"identifiers = {{ {identifiers} }}",
                  f"attributes = {_toml_list(holder['attributes'])}"]
    for fields in RECIPES:
        lines += ["", "[[recipes]]", f"fields = {_toml_list(fields)}"]
    text = "\n".join(lines) + "\n"
    ProjectSpec.from_dict(tomllib.loads(text), source="synthetic project.toml")
    return text
