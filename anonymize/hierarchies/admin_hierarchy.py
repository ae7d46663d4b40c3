"""Korea's administrative areas as a hierarchy: 읍면동 -> 시군구 -> 시도 -> 전국.

Labels are full names at every level ("경기도 수원시 장안구" -> "경기도" -> "전국"), because a
bare 시군구 name is ambiguous (there are five 중구). Values may be given as

* 10-digit 법정동코드 (읍면동 level): the 시군구 is the first 5 digits. The 읍면동 names are not
  shipped with the product, so at the 읍면동 level the label is the code itself;
* 5-digit 시군구 codes or 시군구 names: full ("경기도 수원시 장안구"), unambiguous bare
  ("수원시 장안구"), or ambiguous bare ("중구") with the 시도 read from a companion column
  (``sido_column``);
* 2-digit 시도 codes or 시도 names.

Codes and names from before the 2023-2024 reorganisations (42 강원도, 45 전라북도, 47720
경상북도 군위군) are read as their successors, so older extracts generalise without a lookup.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.admin_areas import SOURCE
from anonymize.hierarchies.base import Hierarchy

LEVELS = ("읍면동", "시군구", "시도", "전국")
NATION = "전국"
#: Code prefixes renumbered since the October 2020 list (see README.md).
LEGACY_PREFIXES = {"47720": "27720", "42": "51", "45": "52"}
LEGACY_SIDO_NAMES = {"강원도": "강원특별자치도", "전라북도": "전북특별자치도"}


@cache
def _lookups() -> dict[str, dict[str, str]]:
    raw = pd.read_csv(SOURCE, dtype=str, encoding="utf-8")
    sido = raw[raw["level"] == "sido"]
    units = raw[raw["level"] == "sigungu"]
    sido_code = dict(zip(sido["name"], sido["code"], strict=True))
    sido_code.update({old: sido_code[new] for old, new in LEGACY_SIDO_NAMES.items()})
    by_bare: dict[str, list[str]] = {}
    for code, name in zip(units["code"], units["name"], strict=True):
        bare = name.split(" ", 1)[1] if " " in name else name
        by_bare.setdefault(bare, []).append(code)
    return {
        "sido_name": dict(zip(sido["code"], sido["name"], strict=True)),
        "sido_code": sido_code,
        "unit_name": dict(zip(units["code"], units["name"], strict=True)),
        "unit_code": dict(zip(units["name"], units["code"], strict=True)),
        "bare_code": {bare: codes[0] for bare, codes in by_bare.items() if len(codes) == 1},
        "ambiguous": {bare: ", ".join(codes) for bare, codes in by_bare.items()
                      if len(codes) > 1},
    }


def modern_code(code: str) -> str:
    """A 시도, 시군구 or 법정동 code renumbered to today's prefix.

    >>> modern_code("4272000000"), modern_code("47720"), modern_code("11110")
    ('5172000000', '27720', '11110')
    """
    for old, new in LEGACY_PREFIXES.items():
        if code.startswith(old):
            return new + code[len(old):]
    return code


class AdminAreaHierarchy(Hierarchy):
    """Administrative areas from ``finest`` (읍면동, 시군구 or 시도) up to 전국.

    >>> h = AdminAreaHierarchy("시군구")
    >>> h.levels
    ('시군구', '시도', '전국')
    >>> s = pd.Series(["경기도 수원시 장안구", "11110", "수원시 영통구"])
    >>> h.generalise(s, "시군구").tolist()
    ['경기도 수원시 장안구', '서울특별시 종로구', '경기도 수원시 영통구']
    >>> h.generalise(s, "시도").tolist()
    ['경기도', '서울특별시', '경기도']
    >>> h.generalise(s, "전국").tolist()
    ['전국', '전국', '전국']
    >>> AdminAreaHierarchy("읍면동").generalise(pd.Series(["4111112900"]), "시군구").tolist()
    ['경기도 수원시 장안구']
    """

    kind = "admin_area"
    top_label = NATION

    def __init__(self, finest: str = "시군구", *, sido_column: str | None = None):
        if finest not in LEVELS[:-1]:
            raise AnonymizeError(f"finest admin level must be one of 읍면동, 시군구, 시도; "
                                 f"got {finest!r}")
        self.finest = finest
        self.levels = LEVELS[LEVELS.index(finest):]
        self.sido_column = sido_column

    def describe(self) -> dict:
        return {**super().describe(), "sido_column": self.sido_column}

    def prepare(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """The column as full names: a bare 시군구 name gets its 시도 from ``sido_column``."""
        values = frame[column]
        if self.sido_column is None:
            return values
        if self.sido_column not in frame.columns:
            raise AnonymizeError(f"column {column!r} needs its 시도 from column "
                                 f"{self.sido_column!r}, which is not in the data")
        # Qualify each distinct (시도, 시군구) pair once, not each row.
        key = frame[self.sido_column].astype(str) + "\x1f" + values.astype(str)
        codes, pairs = pd.factorize(key)
        full = np.array([_qualify(*pair.split("\x1f", 1)) for pair in pairs] + [None],
                        dtype=object)
        return pd.Series(full[codes], index=values.index, dtype=object,
                         name=column).where(values.notna(), None)

    def generalise(self, values: pd.Series, level: int | str) -> pd.Series:
        index = self.level_index(level)
        values = pd.Series(values)
        codes, uniques = pd.factorize(values)
        # The extra last label is what a missing value (code -1) becomes.
        labels = np.array([self._label(str(value), index, values.name) for value in uniques]
                          + [NATION if index == self.height else None], dtype=object)
        return pd.Series(labels[codes], index=values.index, dtype=object)

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:  # pragma: no cover
        raise NotImplementedError  # generalise() works on distinct values directly

    def _label(self, value: str, level: int, column: object) -> str:
        name = self.levels[level]
        if name == NATION:
            return NATION
        code = self._code(value.strip(), column)
        if name == "읍면동":
            return code
        if name == "시군구":
            return _lookups()["unit_name"][code[:5]]
        return _lookups()["sido_name"][code[:2]]

    def _code(self, value: str, column: object) -> str:
        """The value's code at this hierarchy's finest level (10, 5 or 2 digits)."""
        look = _lookups()
        width = {"읍면동": 10, "시군구": 5, "시도": 2}[self.finest]
        if value.isdigit():
            code = modern_code(value)
            known = (code[:5] in look["unit_name"] if len(code) >= 5
                     else code in look["sido_name"])
            if len(code) == width and known:
                return code
            raise AnonymizeError(f"column {column!r}: {value!r} is not a known "
                                 f"{width}-digit {self.finest} code")
        if self.finest == "읍면동":
            raise AnonymizeError(f"column {column!r}: 읍면동 values must be 10-digit "
                                 f"법정동코드 (names are not shipped), got {value!r}")
        if self.finest == "시도":
            if value in look["sido_code"]:
                return look["sido_code"][value]
            raise AnonymizeError(f"column {column!r}: {value!r} is not a 시도 name")
        first, _, rest = value.partition(" ")
        if first in LEGACY_SIDO_NAMES:
            value = f"{LEGACY_SIDO_NAMES[first]} {rest}"
        for table in ("unit_code", "bare_code"):
            if value in look[table]:
                return look[table][value]
        if value in look["ambiguous"]:
            raise AnonymizeError(f"column {column!r}: 시군구 {value!r} is ambiguous (codes "
                                 f"{look['ambiguous'][value]}); give its 시도 column "
                                 f"(--hierarchy COL=sigungu:SIDO_COLUMN) or full names")
        raise AnonymizeError(f"column {column!r}: {value!r} is not a known 시군구")


def _qualify(sido: str, unit: str) -> str:
    if unit == sido or unit.startswith(sido + " ") or sido in ("nan", "None", "<NA>"):
        return unit
    return f"{sido} {unit}"
