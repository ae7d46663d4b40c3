"""Parquet files written behind the caller and hashed on the way to disk (issue 21): the
digest an envelope signs must be the file's, and a failed write must not pass silently."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkage
from linkage.envelope import _Member
from linkage.sinks import HashedParquetSink
from tests.linkage.conftest import PASSPHRASE


def _table(start: int, rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(start, start + rows), pa.int64()),
                     "s": pa.array([f"v{i}" for i in range(start, start + rows)])})


def test_digest_is_the_written_files_and_the_rows_are_in_order(tmp_path):
    path = tmp_path / "out.parquet"
    with HashedParquetSink(path, _table(0, 1).schema, compression="zstd") as sink:
        for start in range(0, 50_000, 10_000):
            sink.write(_table(start, 10_000))
    assert sink.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert pq.read_table(path).column("n").to_pylist() == list(range(50_000))


def test_a_write_that_fails_on_the_writer_thread_is_raised_to_the_caller(tmp_path):
    path = tmp_path / "out.parquet"
    with pytest.raises((pa.ArrowInvalid, ValueError)), \
            HashedParquetSink(path, _table(0, 1).schema) as sink:
        sink.write(_table(0, 10))
        sink.write(pa.table({"other": [1, 2]}))  # schema differs: the writer refuses
        for start in range(10):
            sink.write(_table(start, 10))
    assert sink.sha256 is None


def test_prepare_seals_its_halves_without_reading_them_again(world, monkeypatch):
    """The halves' digests come from the write: hashing a whole file before sealing it is
    the pass that issue 21 removed from prepare's serial tail."""
    def no_second_read(self):
        raise AssertionError(f"{self.path} hashed again before sealing")

    monkeypatch.setattr(_Member, "sha256", no_second_read)
    world.prepare_all()
    monkeypatch.undo()
    for path in world.keys_files():  # and the signed digest is the data's
        table = linkage.read_envelope(path, world.keys, "keymanager", PASSPHRASE,
                                      world.manifest)
        assert table.num_rows > 0
