"""How one cell is written: as JSON for ``/rows`` and as text for CSV.

Both keep values exact where they can: decimals keep their digits in CSV, dates and times are
ISO 8601, a missing value is ``null`` in JSON and an empty field in CSV.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


def json_value(value: Any) -> Any:
    """A DuckDB value as plain JSON.

    >>> json_value(Decimal("1.50")), json_value(float("nan")), json_value(date(2026, 1, 2))
    (1.5, None, '2026-01-02')
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)


def csv_cell(value: Any) -> str:
    """A DuckDB value as one CSV field's text.

    >>> [csv_cell(v) for v in (None, True, 2.0, Decimal("1.10"), datetime(2026, 1, 2, 3, 4))]
    ['', 'true', '2.0', '1.10', '2026-01-02T03:04:00']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
