"""CSV downloads: the Parquet content exactly, for UTF-8, spreadsheet and CP949 users."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.open_api.conftest import write_release

EXPECTED = (
    "sigungu,households,share,surveyed,urban\r\n"
    "강남구,120,0.25,2025-12-01,true\r\n"
    "노원구,85,0.5,2025-11-01,true\r\n"
    "중랑구,85,,2025-12-01,false\r\n"
    "강서구,40,1.5,,\r\n"
)


def test_csv_body_equals_the_parquet_content(client, districts):
    response = client.get("/api/v1/datasets/districts.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.decode("utf-8") == EXPECTED
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"districts.csv\"; filename*=UTF-8''districts.csv"
    )


def test_csv_with_bom_for_spreadsheets(client, districts):
    response = client.get("/api/v1/datasets/districts.csv", params={"bom": "true"})
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.decode("utf-8-sig") == EXPECTED


def test_csv_in_cp949_for_older_korean_tools(client, districts):
    response = client.get("/api/v1/datasets/districts.csv", params={"encoding": "cp949"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=cp949"
    assert response.content.decode("cp949") == EXPECTED
    assert "강남구".encode("cp949") in response.content


def test_cp949_refuses_before_streaming_when_a_cell_cannot_be_encoded(client, source, tmp_path):
    table = pa.table({"name": ["강남구", "caf\u00e9 🏠"], "n": [1, 2]})
    source.add(write_release(tmp_path / "emoji.parquet", table))
    response = client.get("/api/v1/datasets/emoji.csv", params={"encoding": "cp949"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unencodable"
    assert "row 2" in error["message"] and "'name'" in error["message"]
    # The same data in UTF-8 is fine.
    utf8 = client.get("/api/v1/datasets/emoji.csv")
    assert utf8.text == "name,n\r\n강남구,1\r\ncafé 🏠,2\r\n"


def test_bom_with_cp949_is_a_400(client, districts):
    response = client.get("/api/v1/datasets/districts.csv",
                          params={"encoding": "cp949", "bom": "true"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_unknown_encoding_is_a_400(client, districts):
    response = client.get("/api/v1/datasets/districts.csv", params={"encoding": "latin-1"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_csv_takes_the_same_filters_and_sort_as_rows(client, districts):
    response = client.get("/api/v1/datasets/districts.csv",
                          params={"households": "85", "sort": "sigungu", "order": "desc"})
    assert response.text == (
        "sigungu,households,share,surveyed,urban\r\n"
        "중랑구,85,,2025-12-01,false\r\n"
        "노원구,85,0.5,2025-11-01,true\r\n"
    )
    refused = client.get("/api/v1/datasets/districts.csv", params={"sort": "nope"})
    assert refused.status_code == 400


def test_csv_quotes_commas_quotes_and_newlines(client, source, tmp_path):
    table = pa.table({"text": ['a,b', 'say "hi"', "two\nlines"]})
    source.add(write_release(tmp_path / "quoting.parquet", table))
    assert client.get("/api/v1/datasets/quoting.csv").text == (
        'text\r\n"a,b"\r\n"say ""hi"""\r\n"two\nlines"\r\n'
    )


def test_large_csv_streams_every_row_across_batches(client, source, tmp_path):
    n = 25_001  # more than two batches
    table = pa.table({"i": pa.array(range(n), pa.int64())})
    source.add(write_release(tmp_path / "big.parquet", table))
    lines = client.get("/api/v1/datasets/big.csv").text.split("\r\n")
    assert lines[0] == "i"
    assert lines[1:-1] == [str(i) for i in range(n)]
    assert lines[-1] == ""


def test_file_name_of_a_non_ascii_release_id_survives(client, source, tmp_path):
    source.add(write_release(tmp_path / "x.parquet", pa.table({"a": [1]}), id="주거-2026"))
    response = client.get("/api/v1/datasets/주거-2026.csv")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert "filename*=UTF-8''%EC%A3%BC%EA%B1%B0-2026.csv" in disposition
    assert disposition.isascii()


_cells = st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cs",)), max_size=12))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_cells, st.none() | st.integers(-(2**63), 2**63 - 1)),
                     max_size=8))
def test_csv_reads_back_to_the_same_values(client, source, tmp_path, rows):
    table = pa.table({"text": [r[0] for r in rows], "number": pa.array([r[1] for r in rows],
                                                                       pa.int64())})
    source.add(write_release(tmp_path / "prop.parquet", table))
    body = client.get("/api/v1/datasets/prop.csv").content.decode("utf-8")
    parsed = list(csv.reader(io.StringIO(body, newline="")))
    assert parsed[0] == ["text", "number"]
    # CSV cannot tell a missing value from empty text: both read back as "".
    assert parsed[1:] == [[text or "", "" if n is None else str(n)] for text, n in rows]
