"""Korea's 시도 / 시군구 as one table: the seed of the area hierarchy and of synthetic addresses.

The table is the Ministry of the Interior and Safety's October 2020 list with the 2023-2024
reorganisations applied (see README.md next to it). A city divided into 구 appears only through
its 구 ("수원시 장안구"), never also as the city: every row is a unit an address lies in, so
that counting people per row never counts anyone twice.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

SOURCE = Path(__file__).with_name("korea_admin_areas.csv")
COLUMNS = ["sido_code", "sido", "sigungu_code", "sigungu"]


@cache
def _table() -> pd.DataFrame:
    raw = pd.read_csv(SOURCE, dtype=str, encoding="utf-8")
    sido = raw[raw["level"] == "sido"].set_index("code")["name"]
    units = raw[raw["level"] == "sigungu"].copy()
    names = set(units["name"])
    parents = {name.rsplit(" ", 1)[0] for name in names if name.count(" ") >= 2}
    units = units[~units["name"].isin(parents)]
    units["sido_code"] = units["code"].str[:2]
    units["sido"] = units["sido_code"].map(sido)
    # Sejong has no level below the sido: its one unit carries the sido's own name.
    below = units["name"].str.split(" ", n=1).str[1]
    units["sigungu"] = below.fillna(units["name"])
    units = units.rename(columns={"code": "sigungu_code"})
    return units[COLUMNS].sort_values("sigungu_code").reset_index(drop=True)


def load_admin_areas() -> pd.DataFrame:
    """The sigungu-level units with their 시도: sido_code, sido, sigungu_code, sigungu.

    >>> areas = load_admin_areas()
    >>> areas.loc[areas["sigungu_code"] == "11110"].iloc[0].tolist()
    ['11', '서울특별시', '11110', '종로구']
    >>> areas.loc[areas["sigungu"] == "군위군", ["sido_code", "sido"]].iloc[0].tolist()
    ['27', '대구광역시']
    >>> areas["sido"].nunique()
    17
    """
    return _table().copy()
