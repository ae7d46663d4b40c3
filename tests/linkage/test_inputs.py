"""Holder files as they come: Korean encodings, BOMs, and mistakes named precisely."""

from __future__ import annotations

import pytest

import linkage
from tests.linkage.conftest import PASSPHRASE, SSIS_CSV


def _prepare(world, path, **kwargs):
    return linkage.prepare(world.manifest, "ssis", path, world.exchange, world.keys,
                           PASSPHRASE, **kwargs)


def _no_outputs(world) -> bool:
    return not world.exchange.exists() or not any(world.exchange.iterdir())


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr", "utf-8-sig"])
def test_korean_encodings_and_bom_are_read(world, encoding):
    path = world.write("ssis-encoded.csv", SSIS_CSV, encoding=encoding)
    report = _prepare(world, path)
    assert report.records == 5
    assert report.keys_per_recipe == {"rrn": 3, "name+dob+sex": 4}


def test_given_encoding_is_used(world):
    path = world.write("ssis-encoded.csv", SSIS_CSV, encoding="cp949")
    assert _prepare(world, path, encoding="cp949").encoding == "cp949"
    with pytest.raises(linkage.InputError, match=r"ssis-encoded.csv, row 2: not valid utf-8"):
        _prepare(world, path, encoding="utf-8")


def test_missing_column_names_file_and_column(world):
    path = world.write("ssis-bad.csv", SSIS_CSV.replace("sigungu", "district"))
    with pytest.raises(linkage.InputError,
                       match=r"ssis-bad.csv, column 'sigungu': column required by the spec"):
        _prepare(world, path)
    assert _no_outputs(world)


@pytest.mark.parametrize("content", ["", "name,rrn,phone,birth,gender,age,sigungu,benefit_type\n"])
def test_empty_file_is_refused(world, content):
    path = world.write("ssis-empty.csv", content)
    with pytest.raises(linkage.InputError, match=r"ssis-empty.csv: file (is empty|holds no)"):
        _prepare(world, path)
    assert _no_outputs(world)


def test_ragged_row_names_its_row(world):
    path = world.write("ssis-ragged.csv", SSIS_CSV + "extra,1,2\n")
    with pytest.raises(linkage.InputError, match=r"ssis-ragged.csv, row 7: cannot parse"):
        _prepare(world, path)
    assert _no_outputs(world)


def test_parquet_input_keeps_attribute_types(world, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = linkage.read_input(world.root / "ssis.csv")
    table = table.set_column(table.column_names.index("age"), "age",
                             table.column("age").cast(pa.int64()))
    pq.write_table(table, tmp_path / "ssis.parquet")
    assert _prepare(world, tmp_path / "ssis.parquet").records == 5
    payload = linkage.read_envelope(world.exchange / "ssis.payload.age", world.keys, "agency",
                                    PASSPHRASE)
    assert payload.schema.field("age").type == pa.int64()


def test_invalid_identifiers_are_counted_not_fatal_once_their_column_is_accepted(world):
    # 1 of the 2 phones is invalid: over the 5% share, so the column must be accepted
    # (tests/linkage/test_invalid_fields.py holds the refusal itself).
    path = world.write("ssis-typo.csv", SSIS_CSV.replace("010-1234-5678", "12"))
    report = _prepare(world, path, accept_invalid=["phone"])
    assert report.invalid["phone"] == 1 and report.records == 5


def test_nul_byte_names_row_and_column(world):
    lines = SSIS_CSV.splitlines()
    lines[3] = lines[3].replace("010-2222-3333", "010-2222\x00-3333")
    path = world.write("ssis-nul.csv", "\n".join(lines) + "\n")
    with pytest.raises(linkage.InputError,
                       match=r"ssis-nul.csv, row 4, column 'phone': holds a NUL byte"):
        _prepare(world, path)
    assert _no_outputs(world)


@pytest.mark.parametrize("size", [10 * 2**20, 2 * 2**20 // 3 * 2])
def test_oversized_field_names_row_and_column(world, size):
    lines = SSIS_CSV.splitlines()
    lines[2] = lines[2].replace("중구", "x" * size)
    path = world.write("ssis-big.csv", "\n".join(lines) + "\n")
    with pytest.raises(linkage.InputError,
                       match=r"ssis-big.csv, row 3, column 'sigungu': a field of [\d,]+ bytes"):
        _prepare(world, path)
    assert _no_outputs(world)
