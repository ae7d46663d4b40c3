"""The native face: listing, metadata, rows with filters, sorting and paging."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.open_api.conftest import DISTRICTS, write_release


def test_list_shows_each_published_dataset_with_its_links(client, districts):
    body = client.get("/api/v1/datasets").json()
    assert body["count"] == 1
    (item,) = body["datasets"]
    assert item["id"] == "districts"
    assert item["form"] == "dp_aggregate"
    assert item["parameters"] == {"epsilon": 1.0}
    assert item["row_count"] == 4
    assert item["status"] == "available"
    assert item["created_at"].startswith("2026-03-01T09:00:00")
    assert item["links"] == {
        "metadata": "/api/v1/datasets/districts",
        "rows": "/api/v1/datasets/districts/rows",
        "csv": "/api/v1/datasets/districts.csv",
    }


def test_list_search_matches_title_and_description(client, source, districts, tmp_path):
    source.add(write_release(tmp_path / "synthetic.parquet", DISTRICTS, title="Synthetic people",
                             form="synthetic", description="SDV microdata"))
    def ids(q):
        return [d["id"] for d in client.get("/api/v1/datasets", params={"q": q}).json()["datasets"]]
    assert ids("HOUSING") == ["districts"]
    assert ids("시군구") == ["districts"]
    assert ids("microdata") == ["synthetic"]
    assert ids("nothing like this") == []


def test_metadata_gives_schema_parameters_provenance_and_default_licence(client, districts):
    meta = client.get("/api/v1/datasets/districts").json()
    assert meta["columns"] == [
        {"name": "sigungu", "type": "VARCHAR", "classification": "quasi_identifier"},
        {"name": "households", "type": "BIGINT", "classification": "other"},
        {"name": "share", "type": "DOUBLE", "classification": None},
        {"name": "surveyed", "type": "DATE", "classification": None},
        {"name": "urban", "type": "BOOLEAN", "classification": None},
    ]
    assert meta["parameters"] == {"epsilon": 1.0}
    assert meta["provenance"] == {"dataset_id": "housing-2026-combined"}
    assert meta["checksum"] == {"algorithm": "sha256", "value": districts.checksum}
    assert meta["licence"]["id"] == "KOGL-Type1"
    assert "공공누리 제1유형" in meta["licence"]["title"]
    assert meta["row_count"] == 4
    assert meta["released_at"].startswith("2026-03-01")


def test_release_may_override_the_licence(client, source, tmp_path):
    source.add(write_release(tmp_path / "cc.parquet", DISTRICTS,
                             parameters={"k": 5, "licence": "CC-BY-4.0"}, form="synthetic"))
    meta = client.get("/api/v1/datasets/cc").json()
    assert meta["licence"]["id"] == "CC-BY-4.0"
    assert meta["parameters"]["k"] == 5


def test_rows_page_in_file_order_with_total(client, districts):
    body = client.get("/api/v1/datasets/districts/rows", params={"limit": 2, "offset": 1}).json()
    assert body == {
        "dataset": "districts",
        "total": 4,
        "limit": 2,
        "offset": 1,
        "rows": [
            {"sigungu": "노원구", "households": 85, "share": 0.5, "surveyed": "2025-11-01",
             "urban": True},
            {"sigungu": "중랑구", "households": 85, "share": None, "surveyed": "2025-12-01",
             "urban": False},
        ],
    }


def test_rows_sort_both_ways_with_ties_kept_in_file_order(client, districts):
    def order(**params):
        rows = client.get("/api/v1/datasets/districts/rows", params=params).json()["rows"]
        return [r["sigungu"] for r in rows]
    assert order(sort="households") == ["강서구", "노원구", "중랑구", "강남구"]
    assert order(sort="households", order="desc") == ["강남구", "노원구", "중랑구", "강서구"]
    # Missing values sort last in either direction.
    assert order(sort="share", order="desc")[-1] == "중랑구"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"households": "85"}, ["노원구", "중랑구"]),
        ({"sigungu": "강남구"}, ["강남구"]),
        ({"surveyed": "2025-12-01", "urban": "false"}, ["중랑구"]),
        ({"share": "1.5"}, ["강서구"]),
        ({"households": ["120", "40"]}, ["강남구", "강서구"]),
    ],
)
def test_rows_equality_filters_parse_values_to_the_column_type(client, districts, params,
                                                                expected):
    body = client.get("/api/v1/datasets/districts/rows", params=params).json()
    assert [r["sigungu"] for r in body["rows"]] == expected
    assert body["total"] == len(expected)


def test_total_counts_filtered_rows_not_the_page(client, districts):
    body = client.get("/api/v1/datasets/districts/rows",
                      params={"households": "85", "limit": 1}).json()
    assert body["total"] == 2
    assert len(body["rows"]) == 1


def test_filter_value_of_the_wrong_type_is_a_400_naming_the_column(client, districts):
    response = client.get("/api/v1/datasets/districts/rows", params={"households": "many"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_filter_value"
    assert "households" in error["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "10001"},
        {"limit": "0"},
        {"offset": "-1"},
        {"limit": "ten"},
        {"order": "sideways"},
    ],
)
def test_bad_paging_or_order_is_a_400_invalid_parameter(client, districts, params):
    response = client.get("/api/v1/datasets/districts/rows", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["details"][0]["parameter"] in params


def test_limit_up_to_ten_thousand_is_allowed(client, districts):
    assert client.get("/api/v1/datasets/districts/rows", params={"limit": 10000}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"sort": 'households" ; DROP TABLE x; --'},
        {"sort": "households DESC"},
        {"sort": "1"},
        {'households" OR 1=1 --': "85"},
        {"read_parquet('/etc/passwd')": "x"},
    ],
)
def test_column_names_from_the_query_must_be_real_columns(client, districts, params):
    response = client.get("/api/v1/datasets/districts/rows", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_column"


def test_odd_but_real_column_names_are_quoted_not_refused(client, source, tmp_path):
    table = pa.table({'a "quoted" name': [1, 2], "값; DROP": ["x", "y"]})
    source.add(write_release(tmp_path / "odd.parquet", table))
    body = client.get("/api/v1/datasets/odd/rows",
                      params={"sort": 'a "quoted" name', "order": "desc", "값; DROP": "x"}).json()
    assert body["rows"] == [{'a "quoted" name': 1, "값; DROP": "x"}]


def test_filter_value_cannot_inject_sql(client, districts):
    body = client.get("/api/v1/datasets/districts/rows",
                      params={"sigungu": "x' OR '1'='1"}).json()
    assert body["total"] == 0


def test_a_column_named_like_duckdbs_row_position_still_pages(client, source, tmp_path):
    table = pa.table({"file_row_number": [9, 8, 7], "x": ["a", "b", "c"]})
    source.add(write_release(tmp_path / "ordinal.parquet", table))
    body = client.get("/api/v1/datasets/ordinal/rows", params={"limit": 2}).json()
    assert [r["x"] for r in body["rows"]] == ["a", "b"]
    body = client.get("/api/v1/datasets/ordinal/rows", params={"sort": "file_row_number"}).json()
    assert [r["x"] for r in body["rows"]] == ["c", "b", "a"]
