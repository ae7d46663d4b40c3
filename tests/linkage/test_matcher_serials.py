"""Both matchers pack serials into 128-bit numbers: anything else is refused, not mangled."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkage import LinkageError


def _keys(path, serials, keys):
    pq.write_table(pa.table({"serial": serials, "rrn": pa.array(keys, pa.binary())}), path)
    return path


def test_matcher_links_on_full_width_serials(tmp_path, engine):
    shared = os.urandom(32)
    a = _keys(tmp_path / "a.parquet", ["0" * 31 + "1", "f" * 32], [shared, os.urandom(32)])
    b = _keys(tmp_path / "b.parquet", ["a" * 32], [shared])
    result = engine.match_files({"a": a, "b": b}, ["rrn"])
    members = result.members.to_pylist()
    assert {(m["holder"], m["serial"]) for m in members} == {("a", "0" * 31 + "1"),
                                                             ("b", "a" * 32)}
    assert len({m["cluster"] for m in members}) == 1


@pytest.mark.parametrize("serial", ["ABC" + "0" * 29, "0" * 31, "0" * 33, "g" * 32, None])
def test_matcher_refuses_a_serial_it_cannot_pack(tmp_path, engine, serial):
    a = _keys(tmp_path / "a.parquet", [serial], [os.urandom(32)])
    b = _keys(tmp_path / "b.parquet", ["b" * 32], [os.urandom(32)])
    with pytest.raises(LinkageError, match="32 lower-case hex"):
        engine.match_files({"a": a, "b": b}, ["rrn"])


def test_matcher_links_keys_of_any_width_and_skips_null_keys(tmp_path, engine):
    """Keys are HMAC outputs in an honest file, but a holder's file may carry short keys or
    none: equal keys link whatever their width, a null key links nothing."""
    short, full = os.urandom(8), os.urandom(32)
    a = _keys(tmp_path / "a.parquet", ["1" * 32, "2" * 32, "3" * 32], [short, full, None])
    b = _keys(tmp_path / "b.parquet", ["4" * 32, "5" * 32, "6" * 32],
              [short, full, None])
    members = engine.match_files({"a": a, "b": b}, ["rrn"]).members.to_pylist()
    pairs = {}
    for m in members:
        pairs.setdefault(m["cluster"], set()).add(m["serial"])
    assert sorted(map(sorted, pairs.values())) == [["1" * 32, "4" * 32], ["2" * 32, "5" * 32]]
