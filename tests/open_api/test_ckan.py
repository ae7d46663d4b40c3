"""The CKAN face: Action API and DataStore envelopes, errors, and the real ckanapi client."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from open_api import create_app
from tests.open_api.conftest import LiveServer, write_release

ACTION = "/api/3/action/"


def result(response):
    body = response.json()
    assert response.status_code == 200 and body["success"] is True, body
    assert body["help"].endswith("help_show?name=" + response.url.path.rsplit("/", 1)[1])
    return body["result"]


def test_package_list_show_and_search(client, districts):
    assert result(client.get(ACTION + "package_list")) == ["districts"]
    package = result(client.get(ACTION + "package_show", params={"id": "districts"}))
    assert package["name"] == "districts" and package["license_id"] == "KOGL-Type1"
    (resource,) = package["resources"]
    assert resource["datastore_active"] and resource["url"].endswith("/datastore/dump/districts")
    found = result(client.get(ACTION + "package_search",
                              params={"q": "housing", "fq": 'res_format:"CSV"'}))
    assert found["count"] == 1 and found["results"][0]["id"] == "districts"
    assert result(client.get(ACTION + "package_search", params={"q": "nothing"}))["count"] == 0


def test_actions_answer_post_with_json_as_ckanapi_sends(client, districts):
    response = client.post(ACTION + "package_show", json={"id": "districts",
                                                          "include_datasets": False})
    assert result(response)["id"] == "districts"


def test_datastore_search_filters_sort_fields_and_formats(client, districts):
    found = result(client.get(ACTION + "datastore_search", params={
        "resource_id": "districts", "filters": json.dumps({"households": [85, 40]}),
        "sort": "households asc, sigungu desc", "fields": "_id,sigungu"}))
    assert found["total"] == 3
    assert found["fields"] == [{"id": "_id", "type": "int"}, {"id": "sigungu", "type": "text"}]
    assert found["records"] == [{"_id": 4, "sigungu": "강서구"}, {"_id": 3, "sigungu": "중랑구"},
                                {"_id": 2, "sigungu": "노원구"}]
    lists = result(client.post(ACTION + "datastore_search", json={
        "resource_id": "districts", "q": "강", "records_format": "lists", "limit": 1,
        "offset": 1, "include_total": False}))
    assert lists["records"] == [[4, "강서구", 40, 1.5, None, None]] and "total" not in lists
    as_csv = result(client.get(ACTION + "datastore_search", params={
        "resource_id": "districts", "records_format": "csv", "fields": "sigungu,households"}))
    assert as_csv["records"].splitlines()[0] == "강남구,120"


@pytest.mark.parametrize(
    ("action", "params", "kind", "status"),
    [
        ("package_show", {"id": "nope"}, "Not Found Error", 404),
        ("package_show", {}, "Validation Error", 409),
        ("package_show", {"id": "districts", "bogus": "1"}, "Validation Error", 409),
        ("datastore_search", {"resource_id": "districts", "limit": "x"}, "Validation Error", 409),
        ("datastore_search", {"resource_id": "districts", "filters": "{bad"},
         "Validation Error", 409),
        ("datastore_search", {"resource_id": "districts", "filters": '{"nope": 1}'},
         "Validation Error", 409),
        ("datastore_search", {"resource_id": "districts", "sort": "nope desc"},
         "Validation Error", 409),
        ("package_search", {"fq": "secret_field:x"}, "Search Query Error", 409),
        ("package_create", {"name": "x"}, "Authorization Error", 403),
        ("datastore_upsert", {}, "Authorization Error", 403),
    ],
)
def test_errors_have_ckans_shape(client, districts, action, params, kind, status):
    response = client.get(ACTION + action, params=params)
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False and body["error"]["__type"] == kind
    assert body["error"]["message"] and "help" in body


def test_hidden_release_is_not_found_in_every_action(client, source, districts):
    source.hidden.add(districts.id)
    assert result(client.get(ACTION + "package_list")) == []
    for action, key in (("package_show", "id"), ("datastore_search", "resource_id")):
        response = client.get(ACTION + action, params={key: "districts"})
        assert response.json()["error"]["__type"] == "Not Found Error"
    assert client.get("/datastore/dump/districts").status_code == 404


def test_datastore_dump_is_the_release_with_row_ids(client, districts):
    text = client.get("/datastore/dump/districts").text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["_id", "sigungu", "households", "share", "surveyed", "urban"]
    assert rows[1] == ["1", "강남구", "120", "0.25", "2025-12-01", "true"]
    assert len(rows) == 5


@pytest.fixture
def released(source, tmp_path):
    """A synthetic-microdata release large enough to need several pages."""
    n = 2_345
    table = pa.table({
        "person": pa.array(range(n), pa.int64()),
        "sido": [["서울특별시", "부산광역시", "대구광역시"][i % 3] for i in range(n)],
        "income": [round(i * 1.5, 2) for i in range(n)],
    })
    return source.add(write_release(tmp_path / "synthetic-people.parquet", table,
                                    form="synthetic", title="Synthetic people",
                                    description="SDV synthetic microdata"))


def test_ckanapi_client_lists_shows_searches_and_pages_the_released_file(source, released):
    ckanapi = pytest.importorskip("ckanapi")
    with LiveServer(create_app(source)) as live:
        ckan = ckanapi.RemoteCKAN(live.url, user_agent="pseudolink-test")
        assert ckan.action.package_list() == ["synthetic-people"]
        package = ckan.action.package_show(id="synthetic-people")
        assert package["resources"][0]["id"] == "synthetic-people"
        assert ckan.action.package_search(q="synthetic", rows=5)["count"] == 1
        records, offset = [], 0
        while True:
            page = ckan.action.datastore_search(resource_id="synthetic-people", limit=1000,
                                                offset=offset)
            if not page["records"]:
                break
            records += page["records"]
            offset += len(page["records"])
        assert page["total"] == len(records)
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="nope")
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.package_create(name="x")
        with pytest.raises(ckanapi.ValidationError):
            ckan.action.datastore_search(resource_id="synthetic-people", limit="many")
    expected = pq.read_table(released.artifact).to_pylist()
    assert [{k: v for k, v in r.items() if k != "_id"} for r in records] == expected
    assert [r["_id"] for r in records] == list(range(1, len(expected) + 1))


def test_ckanapi_dump_datasets_all(source, released, tmp_path):
    pytest.importorskip("ckanapi")
    out = tmp_path / "dump.jsonl"
    with LiveServer(create_app(source)) as live:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "ckanapi"), "dump", "datasets", "--all",
             "-r", live.url, "-O", str(out), "-p", "1", "-q"],
            capture_output=True, text=True, timeout=120,
            # ckanapi starts its workers as "ckanapi" found on PATH.
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                 f"{os.environ.get('PATH', '')}"},
        )
    assert run.returncode == 0, run.stderr
    (line,) = out.read_text(encoding="utf-8").splitlines()
    dumped = json.loads(line)
    assert dumped["name"] == "synthetic-people" and dumped["num_resources"] == 1
