"""What the building register says about a building: use, structure, year built, floor area.

Homes of people who draw a means-tested benefit are older and more often of masonry, as the
housing studies that motivate linkage found; the generator keeps that signal so a demo
analysis has something real to find.
"""

from __future__ import annotations

import numpy as np

USES = ("아파트", "단독주택", "다세대주택", "연립주택", "다가구주택", "제1종근린생활시설",
        "제2종근린생활시설", "업무시설")
USE_SHARES = (0.45, 0.18, 0.14, 0.05, 0.07, 0.05, 0.04, 0.02)
STRUCTURES = ("철근콘크리트구조", "조적조", "목구조", "경량철골구조", "일반철골구조",
              "철골철근콘크리트구조", "블록구조")
# Typical floor area (m²) per use, as the median of a log-normal spread.
FLOOR_AREA = (84.0, 110.0, 55.0, 70.0, 180.0, 220.0, 260.0, 600.0)
APARTMENT_SIZES = np.array([39.0, 49.0, 59.0, 74.0, 84.0, 101.0, 114.0, 135.0])
APARTMENT_SHARES = np.array([0.04, 0.08, 0.22, 0.14, 0.32, 0.08, 0.08, 0.04])


def sample_buildings(rng: np.random.Generator, n: int, low_income: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """Use and structure (indices into :data:`USES`, :data:`STRUCTURES`), year and area."""
    use = rng.choice(len(USES), size=n, p=USE_SHARES)
    apartment = use == 0
    year = np.where(apartment, 2024 - rng.gamma(2.0, 9.0, size=n),
                    2024 - rng.gamma(2.0, 13.0, size=n))
    year = year - low_income * rng.gamma(2.0, 5.0, size=n)
    year = np.clip(np.round(year), 1950, 2024).astype(np.int32)

    old = year < 1990
    masonry = rng.choice([1, 2, 6], size=n, p=[0.6, 0.15, 0.25])
    modern = rng.choice([0, 3, 4], size=n, p=[0.7, 0.2, 0.1])
    houses = np.isin(use, (1, 4))
    structure = np.where(houses & old & (rng.random(n) < 0.7), masonry, modern)
    structure = np.where(np.isin(use, (2, 3)) & (rng.random(n) < 0.85), 0, structure)
    tall = rng.random(n) < 0.1
    structure = np.where(apartment, np.where(tall, 5, 0), structure)

    area = np.exp(rng.normal(np.log(np.array(FLOOR_AREA)[use]), 0.35))
    flat = APARTMENT_SIZES[rng.choice(len(APARTMENT_SIZES), size=n, p=APARTMENT_SHARES)]
    area = np.where(apartment, flat + rng.normal(0, 1.5, size=n), area)
    return {"use": use, "structure": structure, "built_year": year,
            "floor_area": np.round(np.maximum(area, 15.0), 2)}
