"""Household, income and the social-security benefit each person draws, consistent with age.

Rules a user of the data may rely on: 기초연금 (basic pension) only from 65; 아동수당 (child
allowance, paid to the parent) only to adults of 18-59 in a household of at least two;
기초생활보장 (basic livelihood) mostly to people with low income; an amount of 0 exactly when
the type is "none".
"""

from __future__ import annotations

import numpy as np

BENEFIT_TYPES = ("기초연금", "기초생활보장", "장애인복지", "아동수당", "none")
NONE = BENEFIT_TYPES.index("none")
# 2024 maxima (KRW per month): basic pension; livelihood benefit by household size 1..6.
BASIC_PENSION = 334_810
LIVELIHOOD = np.array([0, 713_102, 1_178_435, 1_508_690, 1_833_572, 2_142_635, 2_437_140])
CHILD_ALLOWANCE = 100_000
DISABILITY_ALLOWANCE = 60_000
LOW_INCOME = 6_000_000  # KRW a year


def household_sizes(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """1 to 6: children live with family, the elderly often alone."""
    n = len(age)
    adult = rng.choice(6, size=n, p=[0.34, 0.29, 0.19, 0.14, 0.03, 0.01]) + 1
    child = rng.choice(5, size=n, p=[0.10, 0.35, 0.40, 0.12, 0.03]) + 2
    old = rng.choice(4, size=n, p=[0.40, 0.45, 0.10, 0.05]) + 1
    return np.where(age < 18, child, np.where(age >= 65, old, adult))


def incomes(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Annual income (KRW, to 10,000), right-skewed; none for children."""
    n = len(age)
    working = rng.lognormal(np.log(32_000_000), 0.65, size=n)
    retired = rng.lognormal(np.log(12_000_000), 0.9, size=n)
    no_income = rng.random(n) < np.where(age >= 65, 0.30, np.where(age < 25, 0.45, 0.15))
    income = np.where(age >= 65, retired, working)
    income = np.where((age < 18) | no_income, 0, income)
    return (income // 10_000 * 10_000).astype(np.int64)


def benefits(rng: np.random.Generator, age: np.ndarray, household: np.ndarray,
             income: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Benefit type (index into :data:`BENEFIT_TYPES`) and monthly amount (KRW)."""
    n = len(age)
    u = rng.random((4, n))
    kind = np.full(n, NONE)
    amount = np.zeros(n, dtype=np.int64)

    livelihood = (income < LOW_INCOME) & (u[0] < np.where(age < 18, 0.02, 0.22))
    share = rng.uniform(0.3, 1.0, size=n)
    kind[livelihood] = BENEFIT_TYPES.index("기초생활보장")
    amount[livelihood] = LIVELIHOOD[household[livelihood]] * share[livelihood] // 10 * 10

    pension = (kind == NONE) & (age >= 65) & (income < 50_000_000) & (u[1] < 0.72)
    reduced = rng.random(n) < 0.15
    pension_amount = np.where(reduced, rng.uniform(0.3, 0.99, size=n) * BASIC_PENSION,
                              BASIC_PENSION)
    kind[pension] = BENEFIT_TYPES.index("기초연금")
    amount[pension] = pension_amount[pension].astype(np.int64) // 10 * 10

    disability = (kind == NONE) & (u[2] < np.where(age >= 65, 0.05, 0.025))
    pension_rate = BASIC_PENSION + rng.choice([0, 20_000, 90_000], size=n)
    kind[disability] = BENEFIT_TYPES.index("장애인복지")
    amount[disability] = np.where(rng.random(n) < 0.4, DISABILITY_ALLOWANCE,
                                  pension_rate)[disability]

    child = ((kind == NONE) & (age >= 18) & (age < 60) & (household >= 2)
             & (u[3] < np.where(age < 50, np.where(household >= 3, 0.35, 0.08), 0.03)))
    children = np.minimum(rng.choice(3, size=n, p=[0.6, 0.32, 0.08]) + 1, household - 1)
    kind[child] = BENEFIT_TYPES.index("아동수당")
    amount[child] = CHILD_ALLOWANCE * children[child]
    return kind, amount
