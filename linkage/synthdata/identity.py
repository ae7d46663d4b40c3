"""Birth dates, resident registration numbers and phone numbers with their real structure.

Uniqueness is built in rather than checked afterwards: two synthetic people never share an RRN
or a phone number, even across chunks generated independently, so that every false match a
linkage run makes comes from the errors the generator reports, never from an accident.
"""

from __future__ import annotations

import numpy as np

from linkage.errors import LinkageError

# The population is "as of" this date, not today, so a seed gives the same data every year.
AS_OF = np.datetime64("2025-01-01")
# Numbers issued from 2020-10-01 on end in a random digit instead of a check digit.
RANDOM_SINCE = np.datetime64("2020-10-01")
WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
# Residents per ten-year age band (thousands), after the 2024 resident registration statistics.
AGE_BANDS = (3300, 4700, 6300, 6700, 7900, 8600, 7500, 3900, 2000, 300, 20)
TAIL_SPACE = 100_000  # digits 8-12 of an RRN
MOBILE_SPACE = 80_000_000  # 010-2000-0000 .. 010-9999-9999
LEGACY_PREFIXES = np.array([11, 16, 17, 18, 19])


def sample_birth_dates(rng: np.random.Generator, n: int, min_age: int = 0) -> np.ndarray:
    """Birth dates (datetime64[D]) following Korea's age pyramid from ``min_age`` up."""
    weights = np.repeat(np.array(AGE_BANDS, dtype=float) / 10, 10)[:105]
    weights[:min_age] = 0.0
    age = rng.choice(len(weights), size=n, p=weights / weights.sum()) + rng.random(n)
    return AS_OF - 1 - (age * 365.2425).astype(np.int64).astype("timedelta64[D]")


def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of datetime64[D] values."""
    months = days.astype("datetime64[M]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def age_on(days: np.ndarray) -> np.ndarray:
    """Completed years of age on :data:`AS_OF`."""
    year, month, day = date_parts(days)
    as_of_year, as_of_month, as_of_day = (int(v[0]) for v in date_parts(np.array([AS_OF])))
    before_birthday = (month > as_of_month) | ((month == as_of_month) & (day > as_of_day))
    return as_of_year - year - before_birthday


def sex_digits(year: np.ndarray, male: np.ndarray, foreign: np.ndarray) -> np.ndarray:
    """The seventh digit: 1/2 for Koreans born in the 1900s, 3/4 after; 5-8 for foreigners."""
    base = np.where(year >= 2000, 3, 1) + np.where(foreign, 4, 0)
    return base + (~male).astype(np.int64)


def rrn_digits(rng: np.random.Generator, born: np.ndarray, sex_digit: np.ndarray,
               chunk: int, chunks: int) -> np.ndarray:
    """Thirteen digits per person, unique over all chunks of one run.

    Digits 8-12 are the person's rank among the chunk's people of the same birth date and sex
    digit, interleaved with the chunk number (so chunks never collide) and scrambled by a
    bijection per birth date; the thirteenth is the check digit (foreigners: 13 instead of 11,
    as the registration rule has it), or random for births from 2020-10-01 on.
    """
    year, month, day = date_parts(born)
    n = len(born)
    group = born.astype(np.int64) * 10 + sex_digit
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - run_start
    slot = rank * chunks + chunk
    if n and slot.max() >= TAIL_SPACE:
        raise LinkageError(
            f"{chunks} chunks leave too few registration numbers per birth date; "
            "use a larger chunk size")
    tail = (slot * 37_117 + group * 7_919) % TAIL_SPACE

    digits = np.empty((n, 13), dtype=np.int64)
    head = (year % 100) * 10_000 + month * 100 + day
    for i, power in enumerate((100_000, 10_000, 1_000, 100, 10, 1)):
        digits[:, i] = head // power % 10
    digits[:, 6] = sex_digit
    for i, power in enumerate((10_000, 1_000, 100, 10, 1)):
        digits[:, 7 + i] = tail // power % 10
    rest = (digits[:, :12] * WEIGHTS).sum(axis=1) % 11
    foreign = sex_digit >= 5
    check = (np.where(foreign, 13, 11) - rest) % 10
    digits[:, 12] = np.where(born < RANDOM_SINCE, check, rng.integers(0, 10, size=n))
    return digits


def phone_subscribers(person_ids: np.ndarray, multiplier: int, offset: int) -> np.ndarray:
    """Eight subscriber digits (2000-0000 .. 9999-9999), a bijection of the person's number.

    ``multiplier`` is coprime to the space, so distinct people never share a number.
    """
    return (person_ids * multiplier + offset) % MOBILE_SPACE + 20_000_000


def phone_constants(rng: np.random.Generator) -> tuple[int, int]:
    """A seed-dependent multiplier coprime to :data:`MOBILE_SPACE`, and an offset."""
    while True:
        multiplier = int(rng.integers(10_000_001, MOBILE_SPACE))
        if multiplier % 2 and multiplier % 5:
            return multiplier, int(rng.integers(0, MOBILE_SPACE))
