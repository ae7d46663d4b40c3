"""The chunk loop: people, their benefit records, their buildings, and the truth between them.

Every chunk draws from its own child of ``SeedSequence(seed)``, so the output depends only on
the seed and the parameters, and each chunk is written and dropped before the next is drawn.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from linkage.errors import LinkageError
from linkage.files import atomic_path, write_atomic
from linkage.synthdata import formats
from linkage.synthdata.buildings import STRUCTURES, USES, sample_buildings
from linkage.synthdata.identity import (
    LEGACY_PREFIXES,
    age_on,
    date_parts,
    phone_constants,
    phone_subscribers,
    rrn_digits,
    sample_birth_dates,
    sex_digits,
)
from linkage.synthdata.mistakes import ERROR_KINDS, Identifiers, add_errors
from linkage.synthdata.names import sample_names
from linkage.synthdata.places import AreaModel, Residences, addresses, sample_residences
from linkage.synthdata.project import project_toml
from linkage.synthdata.sinks import FORMATS, TableSink
from linkage.synthdata.welfare import BENEFIT_TYPES, LOW_INCOME, benefits, household_sizes, incomes

ProgressCallback = Callable[[str, int, int | None], None]
# Building owners who draw no social security at all, per person of the ssis file.
BUILDING_ONLY_SHARE = 0.25
FOREIGN_SHARE = 0.035
PHONE_MISSING_SHARE = 0.03
MAX_PEOPLE = 60_000_000
#: Everyone who appears in either file: their phone numbers stay unique within the 010 space.
MAX_PERSONS = round(MAX_PEOPLE * (1 + BUILDING_ONLY_SHARE))

SSIS_SCHEMA = pa.schema([
    ("record_id", pa.string()), ("name", pa.string()), ("rrn", pa.string()),
    ("dob", pa.string()), ("birth_year", pa.int32()), ("sex", pa.string()),
    ("phone", pa.string()), ("address", pa.string()), ("sido", pa.string()),
    ("sigungu", pa.string()), ("postcode", pa.string()), ("household_size", pa.int32()),
    ("income", pa.int64()), ("benefit_type", pa.string()), ("benefit_amount", pa.int64()),
])
BUILDING_SCHEMA = pa.schema([
    ("record_id", pa.string()), ("owner_name", pa.string()), ("owner_rrn", pa.string()),
    ("owner_phone", pa.string()), ("building_use", pa.string()), ("structure", pa.string()),
    ("built_year", pa.int32()), ("floor_area", pa.float64()), ("sido", pa.string()),
    ("sigungu", pa.string()), ("address", pa.string()),
])
TRUTH_SCHEMA = pa.schema([("ssis_record_id", pa.string()), ("building_record_id", pa.string())])


@dataclass
class SynthDataReport:
    """What was generated (counts only: no identifier ever appears in a report)."""

    people: int
    rows: dict[str, int]
    true_pairs: int
    errors: dict[str, int]
    seed: int
    typo_rate: float
    overlap: float
    building_only: float
    format: str
    chunk_size: int
    elapsed_seconds: float
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Population:
    """One chunk's people, before any of it is written as text."""

    ids: Identifiers
    born: np.ndarray
    male: np.ndarray
    places: Residences


def _population(rng: np.random.Generator, person_ids: np.ndarray, people: int,
                model: AreaModel, chunk: int, chunks: int, phone: tuple[int, int]
                ) -> _Population:
    n = len(person_ids)
    # Owners who appear only in the building register are adults; ssis covers all ages.
    owner_only = person_ids >= people
    born = np.where(owner_only, sample_birth_dates(rng, n, min_age=20), sample_birth_dates(rng, n))
    year = date_parts(born)[0]
    age = age_on(born)
    male = rng.random(n) < 0.5
    foreign = rng.random(n) < np.where((age >= 18) & (age < 65), FOREIGN_SHARE, 0.01)
    names, surname_len = sample_names(rng, male, year)
    rrn = rrn_digits(rng, born, sex_digits(year, male, foreign), chunk, chunks)
    legacy = rng.random(n) < np.where(age >= 60, 0.08, np.where(age >= 50, 0.03, 0.005))
    prefix = np.where(legacy, rng.choice(LEGACY_PREFIXES, size=n), 10)
    no_phone = rng.random(n) < np.where(age < 10, 0.8, np.where(age < 14, 0.3, np.where(
        age >= 80, 0.10, PHONE_MISSING_SHARE)))
    ids = Identifiers(names, surname_len, rrn, np.zeros(n, dtype=bool), prefix,
                      phone_subscribers(person_ids, *phone), no_phone)
    return _Population(ids, born, male, sample_residences(rng, model, n))


def _take(ids: Identifiers, rows: np.ndarray) -> Identifiers:
    return Identifiers(*(getattr(ids, f)[rows] for f in Identifiers.__dataclass_fields__))


def _strings(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(index))


def _ssis_table(rng: np.random.Generator, pop: _Population, person_ids: np.ndarray,
                model: AreaModel) -> tuple[pa.Table, np.ndarray]:
    year, month, day = date_parts(pop.born)
    age = age_on(pop.born)
    household = household_sizes(rng, age)
    income = incomes(rng, age)
    kind, amount = benefits(rng, age, household, income)
    address, sido, sigungu = addresses(model, pop.places)
    ids = pop.ids
    table = pa.Table.from_arrays([
        formats.record_ids("S", person_ids + 1),
        formats.names_plain(ids.names),
        formats.rrn_hyphenated(ids.rrn, ids.rrn_missing),
        formats.iso_dates(year, month, day),
        pa.array(year.astype(np.int32)),
        pa.array(np.where(pop.male, "M", "F")),
        formats.phone_hyphenated(ids.phone_prefix, ids.phone_subscriber, ids.phone_missing),
        address, sido, sigungu,
        formats.postcodes(pop.places.postcode),
        pa.array(household.astype(np.int32)),
        pa.array(income),
        _strings(BENEFIT_TYPES, kind),
        pa.array(amount),
    ], schema=SSIS_SCHEMA)
    low_income = ((kind == BENEFIT_TYPES.index("기초생활보장"))
                  | (kind == BENEFIT_TYPES.index("기초연금"))
                  | ((age >= 18) & (income < LOW_INCOME)))
    return table, low_income


def _building_table(rng: np.random.Generator, ids: Identifiers, places: Residences,
                    low_income: np.ndarray, first_number: int, model: AreaModel
                    ) -> pa.Table:
    n = len(ids.names)
    building = sample_buildings(rng, n, low_income)
    address, sido, sigungu = addresses(model, places)
    return pa.Table.from_arrays([
        formats.record_ids("B", np.arange(first_number, first_number + n)),
        formats.names_varied(rng, ids.names, ids.surname_len),
        formats.rrn_plain(ids.rrn, ids.rrn_missing),
        formats.phone_varied(rng, ids.phone_prefix, ids.phone_subscriber, ids.phone_missing),
        _strings(USES, building["use"]),
        _strings(STRUCTURES, building["structure"]),
        pa.array(building["built_year"]),
        pa.array(building["floor_area"]),
        sido, sigungu, address,
    ], schema=BUILDING_SCHEMA)


def _check(people: int, typo_rate: float, overlap: float, building_only: float,
           chunk_size: int, fmt: str) -> None:
    if people < 1:
        raise LinkageError(f"people must be at least 1, not {people}")
    if chunk_size < 1:
        raise LinkageError(f"chunk size must be at least 1, not {chunk_size}")
    # Phone numbers stay unique only while everyone fits the 010 numbering space.
    if people > MAX_PEOPLE:
        raise LinkageError(f"people must be at most {MAX_PEOPLE:,}, not {people:,}")
    for label, value in (("typo rate", typo_rate), ("overlap", overlap),
                         ("building-only share", building_only)):
        if not 0.0 <= value <= 1.0:
            raise LinkageError(f"{label} must lie between 0 and 1, not {value}")
    if people * (1 + building_only) > MAX_PERSONS:
        raise LinkageError(f"people and building-only owners together must be at most "
                           f"{MAX_PERSONS:,}, not {round(people * (1 + building_only)):,}")
    if fmt not in FORMATS:
        raise LinkageError(f"format must be one of {', '.join(FORMATS)}, not '{fmt}'")


def generate(out_dir: Path, people: int, *, areas: pd.DataFrame, seed: int = 0,
             typo_rate: float = 0.0, overlap: float = 0.5,
             building_only: float = BUILDING_ONLY_SHARE, chunk_size: int = 500_000,
             fmt: str = "parquet", progress: ProgressCallback | None = None
             ) -> SynthDataReport:
    """Write an entirely fake social-security file, a building register and their true pairs.

    Files in ``out_dir``: ``ssis.<fmt>``, ``building.<fmt>``, ``truth.parquet``,
    ``project.toml`` (a project spec for the two files) and ``synth-data.json`` (this report).
    The same seed and parameters give byte-identical data files. ``overlap`` is the share of
    the ssis people who own a building, ``building_only`` the owners without a welfare record
    per ssis person (a national run pairs 51M people with a 10M register: 0.16 and 0.04).
    """
    _check(people, typo_rate, overlap, building_only, chunk_size, fmt)
    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = AreaModel.from_frame(areas)
    chunks = math.ceil(people / chunk_size)
    constants, chunk_parent = np.random.SeedSequence(seed).spawn(2)
    phone = phone_constants(np.random.Generator(np.random.PCG64(constants)))
    extra_per_chunk = round(chunk_size * building_only)
    errors = dict.fromkeys(ERROR_KINDS, 0)
    pairs = 0
    names = {"ssis": f"ssis.{fmt}", "building": f"building.{fmt}", "truth": "truth.parquet"}

    with ExitStack() as stack:
        paths = {key: stack.enter_context(atomic_path(out_dir / name))
                 for key, name in names.items()}
        sinks = {"ssis": TableSink(paths["ssis"], SSIS_SCHEMA, fmt),
                 "building": TableSink(paths["building"], BUILDING_SCHEMA, fmt),
                 "truth": TableSink(paths["truth"], TRUTH_SCHEMA, "parquet")}
        for chunk, chunk_seed in enumerate(chunk_parent.spawn(chunks)):
            rng = np.random.Generator(np.random.PCG64(chunk_seed))
            start = chunk * chunk_size
            n = min(chunk_size, people - start)
            extra = round(n * building_only)
            person_ids = np.r_[np.arange(start, start + n),
                               people + chunk * extra_per_chunk + np.arange(extra)]
            pop = _population(rng, person_ids, people, model, chunk, chunks, phone)
            ssis_rows = np.arange(n)
            ssis, low_income = _ssis_table(
                rng, _Population(_take(pop.ids, ssis_rows), pop.born[:n], pop.male[:n],
                                 pop.places.take(ssis_rows)), person_ids[:n], model)

            owners = np.flatnonzero(rng.random(n) < overlap)
            rows = rng.permutation(np.r_[owners, np.arange(n, n + extra)])
            ids, kind = add_errors(rng, _take(pop.ids, rows), typo_rate)
            first = sinks["building"].rows + 1
            owner_low_income = np.r_[low_income, np.zeros(extra, dtype=bool)][rows]
            building = _building_table(rng, ids, pop.places.take(rows), owner_low_income,
                                       first, model)
            matched = np.flatnonzero(rows < n)
            truth = pa.Table.from_arrays(
                [ssis.column("record_id").take(pa.array(rows[matched])),
                 building.column("record_id").take(pa.array(matched))], schema=TRUTH_SCHEMA)
            for index, label in enumerate(ERROR_KINDS):
                errors[label] += int((kind == index).sum())
            pairs += len(matched)
            sinks["ssis"].write(ssis)
            sinks["building"].write(building)
            sinks["truth"].write(truth)
            if progress is not None:
                progress("generating people", start + n, people)
        for sink in sinks.values():
            sink.close()

    write_atomic(out_dir / "project.toml", project_toml(fmt).encode("utf-8"))
    report = SynthDataReport(
        people=people, rows={"ssis": sinks["ssis"].rows, "building": sinks["building"].rows},
        true_pairs=pairs, errors=errors, seed=seed, typo_rate=typo_rate, overlap=overlap,
        building_only=building_only, format=fmt, chunk_size=chunk_size,
        elapsed_seconds=round(time.monotonic() - started, 3),
        files=[*names.values(), "project.toml", "synth-data.json"],
    )
    write_atomic(out_dir / "synth-data.json",
                 json.dumps(report.to_dict(), indent=2, ensure_ascii=False).encode("utf-8"))
    return report
