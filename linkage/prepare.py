"""Stage 1, at each holder: normalise, key, and split a file into keys and attributes.

The keys half (serial + the mode's key columns: one linkage key per recipe in exact mode,
Bloom filters and blocking keys in fuzzy mode) goes to the key manager, the attributes half
(serial + attributes) to the combiner, each sealed to its recipient. Only the holder keeps
the crosswalk from its own records to the serials: it is written 0600 to the holder's
private folder in its workspace, never to the output folder whose files are sent away.

Both modes run one batched path (:func:`prepare_holder`); a :class:`KeysStrategy` says what
the mode makes of a batch (:class:`ExactKeys` here, ``linkage.fuzzy.prepare.FuzzyKeys``),
and ``linkage.modes.MODES`` picks it by the project's mode.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from linkage.engines import Engine, get_engine
from linkage.envelope import COMPRESSION, seal_file, use_workers
from linkage.errors import InputError, LinkageError
from linkage.field_check import (
    DEFAULT_MAX_INVALID_SHARE,
    check_accept_options,
    refuse_lost_columns,
)
from linkage.files import atomic_path
from linkage.inputs import as_text, detect_encoding, open_input, require_columns
from linkage.keys.acceptance import check_accepted
from linkage.keys.party import PartySecret, load_party_secret
from linkage.keys.project import ProjectManifest, as_manifest, load_project_key
from linkage.reports import PrepareReport, write_report
from linkage.scratch import private_dir as private_scratch
from linkage.serials import random_hex
from linkage.sinks import HashedParquetSink
from linkage.spec import HolderSpec, ProjectSpec, Recipe

if TYPE_CHECKING:
    from linkage.normalise import NormalisedIdentifiers

Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")
#: A column with this name is the holder's record id when the spec names none.
RECORD_ID_COLUMN = "record_id"
#: Records per batch: large enough for vectorised work, small enough for flat memory.
BATCH_ROWS = 500_000
#: The fewest batches in flight: writing one overlaps keying the next.
LOOKAHEAD = 2
#: What each batch in flight counts against half the machine's memory: half a million
#: records with their normalised identifiers and keys stay well under it.
BATCH_MEMORY = 1024**3


def private_dir(keys_dir: str | Path, project_id: str) -> Path:
    """The holder's own folder for a project, beside its keys: nothing here is ever sent.

    >>> private_dir("ws/keys", "p").as_posix()
    'ws/private/p'
    """
    return Path(keys_dir).parent / "private" / project_id


def crosswalk_path(keys_dir: str | Path, project_id: str, holder_id: str) -> Path:
    """Where ``prepare`` keeps a holder's crosswalk (record id -> serial), 0600."""
    return private_dir(keys_dir, project_id) / f"{holder_id}.crosswalk.parquet"


def output_paths(out_dir: Path, holder_id: str, private: Path | None = None
                 ) -> dict[str, Path]:
    """What prepare writes: the sealed halves to ``out_dir``, the crosswalk to ``private``."""
    return {
        "keys": out_dir / f"{holder_id}.keys.age",
        "payload": out_dir / f"{holder_id}.payload.age",
        "crosswalk": (private or out_dir) / f"{holder_id}.crosswalk.parquet",
        "report": out_dir / f"{holder_id}.prepare.json",
    }


def make_private(path: Path) -> Path:
    """Create ``path`` (and its parents) readable by this user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


class KeysStrategy(ABC):
    """What a project's mode makes of one batch of a holder's identifiers.

    Reading, serials, payload, crosswalk, sealing and the report are the same in every
    mode; only normalising and the key columns differ. A strategy is pickled with the job
    to wherever the engine works on records (Spark's executors), and keys each batch on
    its own: :meth:`encode` must give each row's keys from that row alone.
    """

    #: The project mode it serves (``ProjectSpec.mode``).
    mode: str

    @abstractmethod
    def normalise(self, text: pa.Table, holder: HolderSpec) -> NormalisedIdentifiers:
        """The batch's identifiers (``text``: the holder's identifier columns as text),
        one column per kind, with what normalising counted; ``ValueError`` if unusable."""

    @abstractmethod
    def encode(self, values: pa.Table, project_key: bytes, compute: Engine) -> pa.Table:
        """The key columns of :meth:`schema`, row-aligned with ``values``."""

    def batch_rows(self, default: int) -> int:
        """Records per batch in this mode (``default``: the stage's)."""
        return default

    @abstractmethod
    def schema(self) -> pa.Schema:
        """The key columns' names and types, known without any record: Spark's driver
        builds its executors' output schema from it, and their files are written in it."""

    @abstractmethod
    def sealed_with(self, manifest: ProjectManifest) -> dict[str, Any]:
        """The fields the keys envelope is sealed with: what ``link`` checks before it
        trusts the columns."""


@dataclass(frozen=True)
class ExactKeys(KeysStrategy):
    """Exact mode: one HMAC-SHA256 linkage key per recipe, hashed by the engine."""

    recipes: tuple[Recipe, ...]
    mode = "exact"

    @classmethod
    def for_spec(cls, spec: ProjectSpec) -> ExactKeys:
        return cls(tuple(spec.recipes))

    def normalise(self, text: pa.Table, holder: HolderSpec) -> NormalisedIdentifiers:
        from linkage.normalise import normalise_identifiers

        return normalise_identifiers(text, holder.identifiers)

    def encode(self, values: pa.Table, project_key: bytes, compute: Engine) -> pa.Table:
        return compute.linkage_keys(_with_all_kinds(values, self.recipes), project_key,
                                    self.recipes)

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(r.name, pa.binary()) for r in self.recipes])

    def sealed_with(self, manifest: ProjectManifest) -> dict[str, Any]:
        return {"recipes": [r.name for r in self.recipes],
                "key_version": manifest.key_version}


def prepare_holder(project: ProjectManifest | str | Path, holder_id: str,
                   input_path: str | Path, out_dir: str | Path, keys_dir: str | Path,
                   passphrase: str, *, strategy: KeysStrategy,
                   encoding: str | None = None, engine: str | Engine = "duckdb",
                   progress: Progress | None = None, accept_invalid: Iterable[str] = (),
                   max_invalid_share: float = DEFAULT_MAX_INVALID_SHARE) -> PrepareReport:
    """Prepare one holder's file, keyed by ``strategy`` (``linkage.prepare`` picks the
    project mode's); see the module docstring for what is written where.

    A column more than ``max_invalid_share`` of whose values are invalid for its kind is
    refused (``linkage.field_check``) unless it is named in ``accept_invalid``.
    """
    manifest = as_manifest(project)
    manifest.require_open()
    spec = manifest.spec
    if strategy.mode != spec.mode:
        raise LinkageError(f"project {manifest.id} is in {spec.mode} mode; its holders "
                           f"cannot prepare keys for {strategy.mode} mode")
    holder = spec.holder(holder_id)
    accepted = check_accept_options(holder, accept_invalid, max_invalid_share)
    input_path, out_dir = Path(input_path), Path(out_dir)
    stage = (f"prepare {holder_id}" if strategy.mode == "exact"
             else f"prepare {holder_id} ({strategy.mode})")
    step = _stepper(progress, stage, 5)

    # Refused before anything is read: a holder that has not accepted this exact project
    # (or is not a party of it) touches no record. The key check itself waits for scrypt.
    check_accepted(manifest, holder_id, keys_dir)
    # scrypt unlocks the holder's keys on a thread of its own (it releases the GIL) while
    # the engine loads and, where it prepares in this process, the first batches are read
    # and normalised: only their hashing waits for the project key.
    unlocking = _in_background(_unlock_holder, manifest, holder_id, keys_dir, passphrase)
    compute = get_engine(engine)
    in_process = type(compute).prepare_file is Engine.prepare_file
    if not input_path.exists():
        raise InputError(input_path, "file not found")
    if not in_process:
        # An engine that distributes ships the key to its tasks itself: it starts (Spark's
        # executors) while the key unlocks.
        compute.start()
        unlocking.result()
    used_encoding = None
    if input_path.suffix.lower() != ".parquet":
        used_encoding = encoding or (detect_encoding(input_path) if input_path.exists()
                                     and input_path.stat().st_size else None)

    paths = output_paths(out_dir, holder_id,
                         make_private(private_dir(keys_dir, manifest.id)))
    # The engine writes the plaintext halves to a private scratch directory (removed on
    # exit), record by record nowhere but where it computes; they are sealed, streaming,
    # at the end.
    with private_scratch("prepare") as scratch, \
            atomic_path(paths["crosswalk"], mode=0o600) as crosswalk_tmp:
        scratch_dir = Path(scratch)
        job = PrepareJob(input_path=input_path, encoding=used_encoding, holder=holder,
                         strategy=strategy,
                         project_key=(lambda: unlocking.result()[1]) if in_process
                         else unlocking.result()[1],
                         keys_out=scratch_dir / "keys.parquet",
                         payload_out=scratch_dir / "payload.parquet",
                         crosswalk_out=crosswalk_tmp, step=step)
        totals = compute.prepare_file(job)
        holder_keys = unlocking.result()[0]
        unlocking = job = None  # the project key goes with them
        if totals.records == 0:
            raise InputError(input_path, "file holds no records")
        refuse_lost_columns(input_path, holder, totals.present, totals.invalid,
                            totals.examples, accepted=accepted, max_share=max_invalid_share)
        step(3)
        out_dir.mkdir(parents=True, exist_ok=True)
        keys_data, payload_data = scratch_dir / "keys.parquet", scratch_dir / "payload.parquet"
        # The two halves are sealed side by side: pyrage holds the GIL, so each encrypts in
        # a worker process of its own where they are large enough for that to pay.
        in_worker = use_workers([keys_data, payload_data])
        with ThreadPoolExecutor(max_workers=2) as pool:
            sealing = [
                pool.submit(seal_file, paths["keys"], keys_data, kind="keys",
                            project=manifest, sender=holder_keys,
                            recipient=manifest.party(spec.key_manager),
                            extra=strategy.sealed_with(manifest),
                            data_sha256=totals.sha256.get("keys"), in_worker=in_worker),
                pool.submit(seal_file, paths["payload"], payload_data, kind="payload",
                            project=manifest, sender=holder_keys,
                            recipient=manifest.party(spec.combiner),
                            data_sha256=totals.sha256.get("payload"), in_worker=in_worker)]
            for future in sealing:
                future.result()
    step(4)

    report = PrepareReport(
        project=manifest.id, holder=holder_id, records=totals.records,
        keys_per_recipe=totals.with_key, invalid=totals.invalid, derived=totals.derived,
        missing_per_recipe={n: totals.records - c for n, c in totals.with_key.items()},
        encoding=used_encoding,
        outputs={k: str(p) for k, p in paths.items()},
    )
    write_report(paths["report"], report.to_dict())
    step(5)
    return report


def _unlock_holder(manifest: ProjectManifest, holder_id: str, keys_dir: str | Path,
                   passphrase: str) -> tuple[PartySecret, bytes]:
    """The holder's keys, checked against the project's record of them, and the project key."""
    holder_keys = load_party_secret(keys_dir, holder_id, passphrase)
    if holder_keys.public != manifest.party(holder_id):
        raise LinkageError(f"the keys of '{holder_id}' in {keys_dir} are not the ones "
                           f"registered in project {manifest.id}")
    return holder_keys, load_project_key(keys_dir, manifest, holder_keys)


def _in_background(work: Callable[..., T], *args: object) -> Future[T]:
    """``work(*args)`` on a thread of its own: a failure comes back from ``result()``. The
    thread is a daemon, so a stage that fails meanwhile does not wait for it."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work(*args))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="unlock", daemon=True).start()
    return future


@dataclass
class PrepareTotals:
    """What prepare counts while it works: records, keys per recipe, and the normalisers'
    per-kind counts (``examples`` are value shapes, never values)."""

    records: int = 0
    with_key: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: SHA-256 of the keys and payload files where the engine hashed them as it wrote
    #: them (``"keys"``, ``"payload"``); sealing hashes any file missing here itself.
    sha256: dict[str, str] = field(default_factory=dict)

    def add(self, counts: dict[str, int], into: dict[str, int]) -> None:
        for name, count in counts.items():
            into[name] = into.get(name, 0) + int(count)

    def merge(self, other: PrepareTotals) -> None:
        """Add ``other``'s counts (a later part of the file: its examples come second)."""
        self.records += other.records
        for name in ("with_key", "invalid", "derived", "present"):
            self.add(getattr(other, name), getattr(self, name))
        self.add_examples(other.examples)

    def add_examples(self, examples: dict[str, list[str]]) -> None:
        """Add a later part's shapes: the first few distinct per kind, in file order, as a
        read of the whole file would find them (a refusal names them)."""
        from linkage.normalise.identifiers import EXAMPLES

        for kind, shapes in examples.items():
            kept = self.examples.setdefault(kind, [])
            kept += [shape for shape in shapes if shape not in kept][:EXAMPLES - len(kept)]

    def to_dict(self) -> dict:
        return {"records": self.records, "with_key": self.with_key, "invalid": self.invalid,
                "derived": self.derived, "present": self.present, "examples": self.examples,
                "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict) -> PrepareTotals:
        return cls(**data)


@dataclass
class PrepareJob:
    """One holder file to normalise, hash and split: what :meth:`Engine.prepare_file` does.

    ``keys_out`` (serial + the key columns of ``strategy``), ``payload_out`` (serial +
    attributes) and ``crosswalk_out`` (row_number, record_id, serial) are single Parquet
    files, rows in the input's order. :meth:`run_here` does it in this process, batch by
    batch; an engine that distributes reads the file itself and calls
    :func:`prepare_batch` where it runs.
    """

    input_path: Path
    encoding: str | None
    holder: HolderSpec
    strategy: KeysStrategy
    #: The key, or (run in this process) a call that waits for it to unlock.
    project_key: bytes | Callable[[], bytes]
    keys_out: Path
    payload_out: Path
    crosswalk_out: Path
    step: Callable[[int], None] = lambda done: None

    def columns(self, names: Sequence[str]) -> tuple[list[str], str | None]:
        """(columns to read, record id column or None) for a file with columns ``names``;
        a column the spec needs and the file lacks is an :class:`InputError`."""
        holder = self.holder
        record_id = holder.record_id or (RECORD_ID_COLUMN if RECORD_ID_COLUMN in names
                                         else None)
        needed = list(dict.fromkeys([*holder.identifiers, *holder.attributes,
                                     *([record_id] if record_id else [])]))
        require_columns(self.input_path, _Named(list(names)), needed, holder.id)
        return needed, record_id

    def run_here(self, compute: Engine) -> PrepareTotals:
        """Read, normalise and hash in this process, hashing with ``compute``."""
        source = open_input(self.input_path, encoding=self.encoding,
                            batch_rows=self.strategy.batch_rows(BATCH_ROWS))
        needed, record_id = self.columns(source.column_names)
        self.step(1)
        totals = PrepareTotals()
        work = partial(prepare_batch, holder=self.holder, strategy=self.strategy,
                       project_key=self.project_key, compute=compute, record_id=record_id,
                       input_path=self.input_path)
        with ExitStack() as writers:
            # Each file is encoded and hashed on a writer thread of its own (Parquet
            # encoding releases the GIL): this loop only hands batches over, and the
            # halves' digests come with them, so sealing reads neither file twice.
            sinks: dict[str, HashedParquetSink] = {}
            targets = {"keys": self.keys_out, "payload": self.payload_out,
                       "crosswalk": self.crosswalk_out}
            for done in _in_order(work, source.batches(needed)):
                tables = dict(zip(targets, done.tables(totals), strict=True))
                for name, table in tables.items():
                    if name not in sinks:
                        # Serials and keys are random: a dictionary would only be built
                        # and dropped.
                        sinks[name] = writers.enter_context(HashedParquetSink(
                            targets[name], table.schema,
                            compression=COMPRESSION.get(name, "zstd"),
                            use_dictionary=name == "payload"))
                    sinks[name].write(table)
                self.step(2)
        totals.sha256 = {name: sinks[name].sha256 for name in ("keys", "payload")
                         if name in sinks}
        return totals


@dataclass
class _Named:
    column_names: list[str]


@dataclass
class _Batch:
    """One batch's halves, before its rows are numbered (batches finish out of order)."""

    keys: pa.Table
    payload: pa.Table
    record_ids: pa.Array | None
    invalid: dict[str, int]
    derived: dict[str, int]
    present: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def tables(self, totals: PrepareTotals) -> tuple[pa.Table, pa.Table, pa.Table]:
        """(keys, payload, crosswalk), numbering rows after those already counted."""
        rows = self.keys.num_rows
        first = totals.records + 1
        row_numbers = pa.array(np.arange(first, first + rows, dtype=np.int64))
        crosswalk = pa.table({
            "row_number": row_numbers,
            "record_id": (self.record_ids if self.record_ids is not None
                          else row_numbers.cast(pa.string())),
            "serial": self.keys.column("serial"),
        })
        totals.records += rows
        totals.add({n: rows - self.keys.column(n).null_count
                    for n in self.keys.column_names[1:]}, totals.with_key)
        totals.add(self.invalid, totals.invalid)
        totals.add(self.derived, totals.derived)
        totals.add(self.present, totals.present)
        totals.add_examples(self.examples)
        return self.keys, self.payload, crosswalk


def batches_in_flight() -> int:
    """Batches keyed at once: one per thread of the stage (``PSEUDOLINK_THREADS``, else
    every usable core), at least :data:`LOOKAHEAD`, and no more than half the machine's
    memory holds at :data:`BATCH_MEMORY` each.

    Normalising runs Arrow kernels one batch to a thread, and fuzzy encoding numpy: on a
    16-core server two batches at a time would leave most cores idle.
    """
    from linkage.engines.resources import detect_machine, threads

    machine = detect_machine()
    return max(LOOKAHEAD, min(threads(machine), machine.memory // 2 // BATCH_MEMORY))


def _in_order(work: Callable[[pa.Table], _Batch], batches: Iterable[pa.Table]
              ) -> Iterator[_Batch]:
    """``work`` over batches on a thread pool, results in input order.

    Arrow kernels, numpy, the HMAC extension and Parquet writing release the GIL, so
    batches are normalised and keyed side by side while earlier ones are written; at most
    :func:`batches_in_flight` batches are in flight, so memory stays flat.
    """
    pending: deque[Future[_Batch]] = deque()
    in_flight = batches_in_flight()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        try:
            for batch in batches:
                pending.append(pool.submit(work, batch))
                if len(pending) >= in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def prepare_batch(batch: pa.Table, holder: HolderSpec, strategy: KeysStrategy,
                  project_key: bytes | Callable[[], bytes], compute: Engine,
                  record_id: str | None, input_path: Path) -> _Batch:
    """Normalise and key one batch by ``strategy``; its halves are row-aligned by serial.
    Runs wherever the engine works on records (this process, or a Spark executor).
    ``project_key`` may be a call that waits for the key: normalising does not need it."""
    try:
        normalised = strategy.normalise(as_text(batch, list(holder.identifiers)), holder)
    except ValueError as exc:
        raise LinkageError(f"{input_path}: {exc}") from None
    serials = random_hex(batch.num_rows)
    keys = strategy.encode(normalised.values,
                           project_key() if callable(project_key) else project_key, compute)
    keys_table = pa.table([serials, *keys.columns], names=["serial", *keys.column_names])
    payload = pa.table([serials, *(batch.column(a) for a in holder.attributes)],
                       names=["serial", *holder.attributes])
    return _Batch(keys_table, payload,
                  batch.column(record_id).cast(pa.string()) if record_id else None,
                  normalised.invalid_counts, normalised.derived, normalised.present,
                  normalised.examples)


def _with_all_kinds(values: pa.Table, recipes: Sequence[Recipe]) -> pa.Table:
    """Give every kind a recipe uses a column, all null where this holder lacks the kind."""
    for recipe in recipes:
        for kind in recipe.fields:
            if kind not in values.column_names:
                values = values.append_column(kind, pa.nulls(values.num_rows, pa.string()))
    return values


def _stepper(progress: Progress | None, stage: str, total: int) -> Callable[[int], None]:
    def step(done: int) -> None:
        if progress is not None:
            progress(stage, done, total)
    return step


__all__ = ["ExactKeys", "KeysStrategy", "PrepareJob", "PrepareTotals", "batches_in_flight",
           "crosswalk_path", "make_private", "output_paths", "prepare_batch", "prepare_holder",
           "private_dir"]
