"""A page's values in JSON are the same whichever way the page is made (a slice of the
release in memory, or a sorted DuckDB query) and whatever the column's type: NaN and
infinities are null, decimals numbers, dates and times ISO 8601."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from open_api.fast_json import json_bytes
from tests.open_api.conftest import write_release

TABLE = pa.table({
    "n": pa.array([1, 2, 3], pa.int64()),
    "big": pa.array([2**64 - 1, 0, None], pa.uint64()),
    "x": pa.array([0.5, float("nan"), float("inf")], pa.float64()),
    "y": pa.array([1.25, None, -2.0], pa.float64()),
    "d": pa.array([Decimal("1.50"), Decimal("2.25"), None], pa.decimal128(6, 2)),
    "day": [date(2026, 1, 2), None, date(2025, 12, 31)],
    "at": [datetime(2026, 1, 2, 3, 4, 5), None, datetime(2026, 1, 2, 3, 4, 5, 6)],
    "name": ["서울", None, "a\"b"],
    "ok": [True, None, False],
})

EXPECTED = [
    {"n": 1, "big": 2**64 - 1, "x": 0.5, "y": 1.25, "d": 1.5, "day": "2026-01-02",
     "at": "2026-01-02T03:04:05", "name": "서울", "ok": True},
    {"n": 2, "big": 0, "x": None, "y": None, "d": 2.25, "day": None, "at": None,
     "name": None, "ok": None},
    {"n": 3, "big": None, "x": None, "y": -2.0, "d": None, "day": "2025-12-31",
     "at": "2026-01-02T03:04:05.000006", "name": "a\"b", "ok": False},
]


@pytest.mark.parametrize("sort", [None, "n"])  # None: a slice in memory; "n": a DuckDB query
def test_page_values_are_plain_json_both_ways(client, source, tmp_path, sort):
    source.add(write_release(tmp_path / "typed.parquet", TABLE))
    params = {"limit": 3} if sort is None else {"limit": 3, "sort": sort}
    response = client.get("/api/v1/datasets/typed/rows", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["rows"] == EXPECTED


def test_an_integer_beyond_64_bits_is_still_encoded():
    assert json_bytes({"n": 2**70, "s": "서울"}) == f'{{"n":{2**70},"s":"서울"}}'.encode()
