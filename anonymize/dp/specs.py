"""The TOML files a privacy officer writes to open a dataset to DP queries or to release a
DP table. Everything here is public and data-independent: keys, bounds, bands, epsilon.

Key lists may be written out or named: ``"sido"`` is the 17 시도 of Korea's current
administrative areas, so a spec need not repeat them.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from anonymize.dp.schema import DPSchema
from anonymize.errors import AnonymizeError


def named_keys(name: str, origin: str) -> list[Any]:
    """A named, public key list.

    >>> named_keys("sido", "spec")[:2]
    ['서울특별시', '부산광역시']
    """
    if name == "sido":
        from anonymize.hierarchies import load_admin_areas

        return list(dict.fromkeys(load_admin_areas()["sido"]))
    raise AnonymizeError(f"{origin}: unknown named key list {name!r} (known: sido)")


def key_list(value: Any, origin: str) -> list[Any]:
    if isinstance(value, str):
        return named_keys(value, origin)
    if not isinstance(value, list) or not value:
        raise AnonymizeError(f"{origin}: keys must be a non-empty list or a named list")
    return list(value)


def _bounds(value: Any, origin: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise AnonymizeError(f"{origin}: bounds must be [lower, upper] numbers, got {value!r}")
    return float(value[0]), float(value[1])


def read_spec(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnonymizeError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AnonymizeError(f"{path}: not valid TOML: {exc}") from None


@dataclass(frozen=True)
class QuerySpec:
    """What ``pseudolink dp enable`` declares: the dataset's public DP schema and budgets.

    >>> spec = QuerySpec.from_dict({"keys": {"sex": ["F", "M"]}, "bounds": {"age": [0, 120]},
    ...                             "budgets": {"public": 1.0}}, "dp.toml")
    >>> spec.schema.bounds_of("age"), spec.columns
    ((0.0, 120.0), ['sex', 'age'])
    """

    schema: DPSchema
    columns: list[str]
    budgets: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    title: str | None = None
    #: The dataset's total, shared by every consumer (``epsilon_total``); None = not declared.
    epsilon_total: float | None = None

    @classmethod
    def load(cls, path: Path) -> QuerySpec:
        return cls.from_dict(read_spec(path), str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], origin: str) -> QuerySpec:
        keys = {c: key_list(v, f"{origin}: keys.{c}") for c, v in doc.get("keys", {}).items()}
        bounds = {c: _bounds(v, f"{origin}: bounds.{c}")
                  for c, v in doc.get("bounds", {}).items()}
        columns = list(doc.get("columns") or dict.fromkeys([*keys, *bounds]))
        undeclared = [c for c in [*keys, *bounds] if c not in columns]
        if undeclared:
            raise AnonymizeError(f"{origin}: columns with keys or bounds must be listed in "
                                 f"'columns': {', '.join(undeclared)}")
        budgets = {}
        for consumer, total in doc.get("budgets", {}).items():
            if not isinstance(total, int | float) or isinstance(total, bool) \
                    or not math.isfinite(total) or total <= 0:
                raise AnonymizeError(f"{origin}: budgets.{consumer} must be a positive "
                                     f"number, got {total!r}")
            budgets[consumer] = float(total)
        shared = doc.get("epsilon_total")
        if shared is not None and (not isinstance(shared, int | float) or isinstance(shared, bool)
                                   or not math.isfinite(shared) or shared <= 0):
            raise AnonymizeError(f"{origin}: epsilon_total must be a positive number, "
                                 f"got {shared!r}")
        try:
            schema = DPSchema(bounds=bounds, keys=keys,
                              privacy_unit=doc.get("privacy_unit", "link_id"),
                              max_contributions=doc.get("max_contributions", 1))
        except AnonymizeError as exc:
            raise AnonymizeError(f"{origin}: {exc}") from None
        return cls(schema, columns, budgets, doc.get("id"), doc.get("title"),
                   None if shared is None else float(shared))

    def manifest(self) -> pd.DataFrame:
        """The public face of the dataset: one row per column a consumer may ask about."""
        rows = []
        for column in self.columns:
            lower, upper = self.schema.bounds.get(column, (None, None))
            keys = self.schema.keys.get(column)
            rows.append({"column": column,
                         "kind": "numeric" if column in self.schema.bounds else
                         "categorical" if keys is not None else "other",
                         "lower": lower, "upper": upper,
                         "keys": None if keys is None else json.dumps(keys, ensure_ascii=False)})
        return pd.DataFrame(rows, columns=["column", "kind", "lower", "upper", "keys"])
