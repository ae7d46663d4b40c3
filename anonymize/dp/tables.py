"""DP aggregate tables for publication: counts (or sums) over a cross product of dimensions.

A dimension is a column with a declared key list, or a band derived from a column, such as an
age band from a birth year at a reference year. Its keys come from the spec alone, so the
table has the same cells whatever the data holds; an empty cell is a noisy zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anonymize.dp.bounding import BoundedData
from anonymize.dp.query import DPAnswer, plan_query, run_plan
from anonymize.dp.schema import DPQuery, DPSchema
from anonymize.dp.specs import key_list, read_spec
from anonymize.errors import AnonymizeError


@dataclass(frozen=True)
class Dimension:
    """One axis of the table: ``name`` in the output, read from ``source``.

    ``band`` is ``None`` (the source's values are the keys) or ``(width, top, reference)``:
    ages ``reference - source`` in bands of ``width`` years, the last one open (``top+``).

    >>> d = Dimension("age_band", "birth_year", band=(20, 60, 2026))
    >>> d.keys
    ['0-19', '20-39', '40-59', '60+']
    >>> d.values(pd.DataFrame({"birth_year": [2020, 1990, 1930, 2030]})).tolist()
    ['0-19', '20-39', '60+', None]
    """

    name: str
    source: str
    declared: tuple[Any, ...] = ()
    band: tuple[int, int, int] | None = None

    @property
    def keys(self) -> list[Any]:
        if self.band is None:
            return list(self.declared)
        width, top, _ = self.band
        return [f"{lo}-{lo + width - 1}" for lo in range(0, top, width)] + [f"{top}+"]

    def values(self, frame: pd.DataFrame) -> pd.Series:
        if self.source not in frame.columns:
            raise AnonymizeError(f"dimension {self.name!r}: column {self.source!r} is not in "
                                 "the data")
        column = frame[self.source]
        if self.band is None:
            return column
        width, top, reference = self.band
        age = reference - pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        lo = np.floor(age / width) * width
        labels = np.array([f"{int(v)}-{int(v) + width - 1}" if v == v else "" for v in lo],
                          dtype=object)
        labels = np.where(age >= top, f"{top}+", labels)
        # Negative or missing ages fall outside every declared cell.
        return pd.Series(np.where(np.isnan(age) | (age < 0), None, labels),
                         index=frame.index, dtype=object)


@dataclass(frozen=True)
class TableSpec:
    """What ``pseudolink release dp`` releases."""

    dimensions: list[Dimension]
    epsilon: float
    consumer: str = "public"
    statistic: str = "count"
    column: str | None = None
    privacy_unit: str | None = "link_id"
    max_contributions: int = 1
    id: str | None = None
    title: str | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> TableSpec:
        return cls.from_dict(read_spec(path), str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], origin: str) -> TableSpec:
        table = doc.get("table", {})
        dims = doc.get("dimensions", [])
        if not dims:
            raise AnonymizeError(f"{origin}: declare at least one [[dimensions]]")
        dimensions = []
        for i, dim in enumerate(dims, start=1):
            where = f"{origin}: dimensions #{i}"
            source = dim.get("column")
            if not isinstance(source, str):
                raise AnonymizeError(f"{where}: needs 'column'")
            hierarchy = dim.get("hierarchy")
            if hierarchy is None:
                dimensions.append(Dimension(dim.get("name", source), source,
                                            tuple(key_list(dim.get("keys"), f"{where}: keys"))))
                continue
            if hierarchy != "age_band":
                raise AnonymizeError(f"{where}: unknown hierarchy {hierarchy!r} "
                                     "(known: age_band)")
            width, top = int(dim.get("width", 10)), int(dim.get("top", 80))
            reference = dim.get("reference_year")
            if not isinstance(reference, int) or width < 1 or top < width or top % width:
                raise AnonymizeError(f"{where}: age_band needs an integer reference_year and "
                                     "a top that is a positive multiple of width")
            dimensions.append(Dimension(dim.get("name", "age_band"), source,
                                        band=(width, top, reference)))
        names = [d.name for d in dimensions]
        if len(set(names)) != len(names):
            raise AnonymizeError(f"{origin}: dimension names repeat: {names}")
        epsilon = table.get("epsilon")
        if not isinstance(epsilon, int | float) or isinstance(epsilon, bool) \
                or not math.isfinite(epsilon) or epsilon <= 0:
            raise AnonymizeError(f"{origin}: table.epsilon must be a positive number, "
                                 f"got {epsilon!r}")
        statistic = table.get("statistic", "count")
        if statistic not in ("count", "sum") or (statistic == "sum") != ("column" in table):
            raise AnonymizeError(f"{origin}: table.statistic is count, or sum with a column")
        return cls(dimensions, float(epsilon), table.get("consumer", "public"), statistic,
                   table.get("column"), table.get("privacy_unit", "link_id"),
                   int(table.get("max_contributions", 1)), table.get("id"),
                   table.get("title"), table.get("description", ""))

    @property
    def value_column(self) -> str:
        return "count" if self.statistic == "count" else f"sum_{self.column}"

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": d.name, "column": d.source, "keys": d.keys,
                 **({"hierarchy": "age_band", "width": d.band[0], "top": d.band[1],
                     "reference_year": d.band[2]} if d.band else {})}
                for d in self.dimensions]


@dataclass(frozen=True)
class DPTableRelease:
    table: pd.DataFrame  # the dimensions, then the noisy value
    answer: DPAnswer

    def parameters(self, spec: TableSpec) -> dict[str, Any]:
        """What the catalog records and the open API shows beside the table."""
        answer = self.answer
        return {"epsilon": answer.epsilon, "delta": 0.0, "mechanism": answer.mechanism,
                "privacy": "pure epsilon-differential privacy, person-level",
                "noise_scale": next(iter(answer.scales.values())),
                "accuracy_95": answer.accuracy.get("accuracy_95"), "confidence": 0.95,
                "statistic": spec.statistic, "column": spec.column,
                "dimensions": spec.describe(), "cells": len(self.table),
                "privacy_unit": answer.privacy_unit,
                "max_contributions": answer.max_contributions, "consumer": spec.consumer,
                **({"clamping_bounds": answer.accuracy["clamping_bounds"]}
                   if "clamping_bounds" in answer.accuracy else {})}


def plan_table(df: pd.DataFrame, spec: TableSpec,
               bounds: dict[str, tuple[float, float]] | None = None):
    """The planned measurement (its epsilon is known before any noise is drawn)."""
    frame = pd.DataFrame({d.name: d.values(df) for d in spec.dimensions}, index=df.index)
    if spec.privacy_unit is not None:
        if spec.privacy_unit not in df.columns:
            raise AnonymizeError(f"privacy unit column {spec.privacy_unit!r} is not in the data")
        frame[spec.privacy_unit] = df[spec.privacy_unit]
    if spec.column is not None:
        frame[spec.column] = df[spec.column]
    schema = DPSchema(bounds=dict(bounds or {}), keys={d.name: d.keys for d in spec.dimensions},
                      privacy_unit=spec.privacy_unit, max_contributions=spec.max_contributions)
    query = DPQuery(spec.statistic, epsilon=spec.epsilon, column=spec.column,
                    by=tuple(d.name for d in spec.dimensions))
    return plan_query(frame, query, schema), schema


def release_table(planned: Any, schema: DPSchema, spec: TableSpec) -> DPTableRelease:
    """Draw the noise; call only after the epsilon was charged."""
    answer = run_plan(planned, schema)
    names = [d.name for d in spec.dimensions]
    table = pd.DataFrame(answer.rows)[[*names, "value"]].rename(
        columns={"value": spec.value_column})
    return DPTableRelease(table, answer)


def dp_table(df: pd.DataFrame | BoundedData, spec: TableSpec,
             bounds: dict[str, tuple[float, float]] | None = None) -> DPTableRelease:
    """Plan and release in one step, with no budget (tests, callers accounting elsewhere)."""
    frame = df.frame if isinstance(df, BoundedData) else df
    planned, schema = plan_table(frame, spec, bounds)
    return release_table(planned, schema, spec)
