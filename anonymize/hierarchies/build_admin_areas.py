"""Rebuild ``korea_admin_areas.csv`` from the October 2020 list, applying later reorganisations.

Run once per new source list: ``python -m anonymize.hierarchies.build_admin_areas SRC.csv``.
Each change is a row of :data:`CHANGES`, applied in date order, so a reviewer can check the
shipped table against the official announcements line by line.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent
TARGET = HERE / "korea_admin_areas.csv"

# (date, kind, arguments). "rename_sido": old code, new code, new name; every code with the
# old prefix moves to the new prefix and every full name's first word becomes the new name.
# "move_sigungu": old code, new code, new parent sido code.
CHANGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("2023-06-11", "rename_sido", ("42", "51", "강원특별자치도")),
    ("2023-07-01", "move_sigungu", ("47720", "27720", "27")),
    ("2024-01-18", "rename_sido", ("45", "52", "전북특별자치도")),
)


def apply_changes(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows with every change of :data:`CHANGES` applied, sorted by code."""
    rows = [dict(row) for row in rows]
    sido_names = {row["code"]: row["name"] for row in rows if row["level"] == "sido"}
    for _date, kind, args in CHANGES:
        if kind == "rename_sido":
            old, new, name = args
            for row in rows:
                if row["code"].startswith(old):
                    row["code"] = new + row["code"][len(old):]
                    row["name"] = " ".join([name, *row["name"].split(" ")[1:]])
            del sido_names[old]
            sido_names[new] = name
        elif kind == "move_sigungu":
            old, new, parent = args
            for row in rows:
                if row["code"] == old:
                    row["code"] = new
                    row["name"] = " ".join([sido_names[parent], *row["name"].split(" ")[1:]])
        else:  # pragma: no cover - a typo in CHANGES
            raise ValueError(f"unknown change kind {kind!r}")
    return sorted(rows, key=lambda row: row["code"])


def main(source: str) -> None:
    with open(source, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows = apply_changes(rows)
    tmp = TARGET.with_name(TARGET.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["code", "name", "level"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(TARGET)


if __name__ == "__main__":
    main(sys.argv[1])
