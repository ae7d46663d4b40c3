"""Where people live: real 시도 / 시군구 names, weighted by population, with fake street addresses.

The area table comes from the caller (linkage may not import anonymize, which ships it), so the
generator checks it names the columns it needs before drawing anything from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkage.errors import LinkageError

AREA_COLUMNS = ("sido_code", "sido", "sigungu_code", "sigungu")
# Residents per 시도 (millions, 2024), by code; 42 and 45 are the pre-2023 codes of 51 and 52.
SIDO_POPULATION = {
    "11": 9.39, "26": 3.29, "27": 2.37, "28": 3.00, "29": 1.41, "30": 1.44, "31": 1.10,
    "36": 0.39, "41": 13.69, "42": 1.52, "51": 1.52, "43": 1.59, "44": 2.13, "45": 1.74,
    "52": 1.74, "46": 1.79, "47": 2.54, "48": 3.24, "50": 0.67,
}
# First two digits of the 5-digit postcodes (2015 system) per 시도.
POSTCODE_RANGES = {
    "11": (1, 9), "41": (10, 18), "28": (21, 23), "42": (24, 26), "51": (24, 26),
    "43": (27, 29), "36": (30, 30), "44": (31, 33), "30": (34, 35), "47": (36, 40),
    "27": (41, 43), "31": (44, 45), "26": (46, 49), "48": (50, 53), "45": (54, 56),
    "52": (54, 56), "46": (57, 60), "29": (61, 62), "50": (63, 63),
}
# Urban districts hold more people than rural counties.
UNIT_WEIGHT = {"구": 3.0, "시": 2.5, "군": 0.5}
ROAD_STEMS = (
    "중앙", "시청", "역전", "공원", "학교", "새마을", "평화", "희망", "동산", "대학", "시장",
    "강변", "은행나무", "느티나무", "소나무", "무궁화", "개나리", "진달래", "장미", "벚꽃",
    "해맞이", "달맞이", "푸른", "햇살", "별빛", "솔밭", "호수", "문화", "예술", "충효", "효자",
    "행복", "사랑", "미래", "번영", "산업", "신촌", "구룡", "매봉", "남산", "북악", "서원",
    "향교", "용두", "청룡", "백운", "금강", "태평", "한빛", "새솔", "가람", "누리", "보람",
    "한마음", "두레", "다솜", "샘내", "큰골", "안골", "새터",
)
ROAD_SUFFIXES = ("로", "길", "대로")


@dataclass(frozen=True)
class AreaModel:
    """The area table as arrays, with each unit's share of residents and postcode block."""

    sido: pa.Array
    sigungu: pa.Array
    share: np.ndarray
    postcode_low: np.ndarray
    postcode_size: np.ndarray

    @classmethod
    def from_frame(cls, areas: pd.DataFrame) -> AreaModel:
        missing = [c for c in AREA_COLUMNS if c not in areas.columns]
        if missing:
            raise LinkageError(f"areas table: missing columns {missing} (needs {AREA_COLUMNS})")
        if areas.empty:
            raise LinkageError("areas table: no rows")
        frame = areas.sort_values("sigungu_code").reset_index(drop=True)
        for column in AREA_COLUMNS:
            blank = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
            if blank.any():
                row = int(np.flatnonzero(blank.to_numpy())[0])
                raise LinkageError(f"areas table, row {row}, column '{column}': empty value")
        codes = frame["sido_code"].astype(str)
        median = float(np.median(list(SIDO_POPULATION.values())))
        sido_pop = codes.map(SIDO_POPULATION).fillna(median).to_numpy(dtype=float)
        last = frame["sigungu"].astype(str).str[-1]
        unit = last.map(UNIT_WEIGHT).fillna(1.0).to_numpy(dtype=float)
        within = unit / pd.Series(unit).groupby(codes.to_numpy()).transform("sum").to_numpy()
        share = sido_pop * within

        low = np.zeros(len(frame), dtype=np.int64)
        size = np.zeros(len(frame), dtype=np.int64)
        for code, rows in frame.groupby(codes).indices.items():
            first, last_prefix = POSTCODE_RANGES.get(code, (90, 99))
            span = (last_prefix - first + 1) * 1000
            block = span // len(rows)
            low[rows] = first * 1000 + np.arange(len(rows)) * block
            size[rows] = block
        return cls(
            sido=pa.array(frame["sido"].astype(str).tolist(), pa.string()),
            sigungu=pa.array(frame["sigungu"].astype(str).tolist(), pa.string()),
            share=share / share.sum(), postcode_low=low, postcode_size=size,
        )


@dataclass(frozen=True)
class Residences:
    """Each person's unit (index into the area model) and street address parts."""

    unit: np.ndarray
    road: np.ndarray
    suffix: np.ndarray
    number: np.ndarray
    sub_number: np.ndarray
    postcode: np.ndarray

    def take(self, rows: np.ndarray) -> Residences:
        return Residences(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def sample_residences(rng: np.random.Generator, model: AreaModel, n: int) -> Residences:
    unit = rng.choice(len(model.share), size=n, p=model.share)
    number = np.minimum(rng.geometric(1 / 40, size=n), 999)
    sub_number = np.where(rng.random(n) < 0.3, rng.integers(1, 30, size=n), 0)
    postcode = model.postcode_low[unit] + (rng.random(n) * model.postcode_size[unit]).astype(
        np.int64)
    return Residences(
        unit=unit, road=rng.integers(0, len(ROAD_STEMS), size=n),
        suffix=rng.choice(len(ROAD_SUFFIXES), size=n, p=[0.55, 0.35, 0.10]),
        number=number, sub_number=sub_number, postcode=postcode,
    )


def addresses(model: AreaModel, places: Residences) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(address, sido, sigungu) strings: "서울특별시 종로구 은행나무길 12-3"."""
    unit = pa.array(places.unit)
    sido = model.sido.take(unit)
    sigungu = model.sigungu.take(unit)
    road = pc.binary_join_element_wise(
        pa.array(ROAD_STEMS).take(pa.array(places.road)),
        pa.array(ROAD_SUFFIXES).take(pa.array(places.suffix)), "")
    number = pc.cast(pa.array(places.number), pa.string())
    sub = pc.cast(pa.array(places.sub_number), pa.string())
    number = pc.if_else(pa.array(places.sub_number > 0),
                        pc.binary_join_element_wise(number, sub, "-"), number)
    # Sejong's single unit carries the 시도's own name; it is written once in an address.
    sigungu_part = pc.if_else(pc.equal(sido, sigungu), pa.scalar(None, pa.string()), sigungu)
    address = pc.binary_join_element_wise(sido, sigungu_part, road, number, " ",
                                          null_handling="skip")
    return address, sido, sigungu
