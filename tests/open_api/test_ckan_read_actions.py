"""The CKAN read actions that clients call beyond package_*: organisations, tags, help, links.

Checked with the real ``ckanapi`` client (library and command line) against a live server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest

from open_api import create_app
from tests.open_api.conftest import LiveServer, write_release

ACTION = "/api/3/action/"


@pytest.fixture
def released(source, tmp_path):
    n = 250
    table = pa.table({
        "sido": [["서울특별시", "부산광역시", "대구광역시"][i % 3] for i in range(n)],
        "households": pa.array([i % 17 for i in range(n)], pa.int64()),
    })
    source.add(write_release(tmp_path / "households-by-sido.parquet", table,
                             form="dp_aggregate", title="Households by sido"))
    return source.add(write_release(tmp_path / "synthetic-people.parquet", table,
                                    form="synthetic", title="Synthetic people"))


def _ckanapi_cli(*args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    return subprocess.run([str(bin_dir / "ckanapi"), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}"
                                            f"{os.environ.get('PATH', '')}"})


def test_the_agency_is_the_publishing_organisation(source, released):
    ckanapi = pytest.importorskip("ckanapi")
    with LiveServer(create_app(source)) as live:
        ckan = ckanapi.RemoteCKAN(live.url, user_agent="pseudolink-test")
        assert ckan.action.organization_list() == ["combination-agency"]
        (org,) = ckan.action.organization_list(all_fields=True)
        assert org["package_count"] == 2 and org["is_organization"] is True
        shown = ckan.action.organization_show(id="combination-agency", include_datasets=True)
        assert sorted(p["name"] for p in shown["packages"]) == ["households-by-sido",
                                                                 "synthetic-people"]
        package = ckan.action.package_show(id="synthetic-people")
        assert package["organization"]["name"] == "combination-agency"
        assert package["owner_org"] == "combination-agency"
        assert package["resources"][0]["hash"] == released.checksum
        with pytest.raises(ckanapi.NotFound):
            ckan.action.organization_show(id="someone-else")
        assert ckan.action.group_list() == []
        assert ckan.action.tag_list() == ["dp_aggregate", "synthetic"]
        listed = ckan.action.current_package_list_with_resources(limit=1)
        assert len(listed) == 1 and listed[0]["resources"][0]["format"] == "CSV"
        assert ckan.action.resource_show(id="synthetic-people")["hash"] == released.checksum
        assert ckan.action.status_show()["api_version"] == 3


def test_every_help_link_resolves(client, released):
    for action in ("package_list", "organization_list", "datastore_search", "help_show"):
        body = client.get(ACTION + action, params={"resource_id": "synthetic-people"}
                          if action == "datastore_search" else None).json()
        help_url = urlsplit(body["help"])
        answer = client.get(help_url.path, params=parse_qs(help_url.query))
        assert answer.status_code == 200, answer.text
        assert answer.json()["success"] is True and answer.json()["result"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_next_link_keeps_filters_sort_and_limit(client, released, method):
    query = {"resource_id": "synthetic-people", "filters": {"sido": "부산광역시"},
             "sort": "households desc", "limit": 7}
    if method == "GET":
        first = client.get(ACTION + "datastore_search",
                           params={**query, "filters": json.dumps(query["filters"])})
    else:
        first = client.post(ACTION + "datastore_search", json=query)
    page = first.json()["result"]
    seen, link = [], page["_links"]["next"]
    rows = page["records"]
    while rows:
        seen += rows
        assert all(r["sido"] == "부산광역시" for r in rows)
        assert len(rows) <= 7
        page = client.get(link).json()["result"]
        rows, link = page["records"], page["_links"]["next"]
    assert len(seen) == page["total"] == 83
    counts = [r["households"] for r in seen]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("get_only", [True, False], ids=["GET", "POST"])
def test_ckanapi_follows_next_links_through_a_filtered_search(source, released, get_only):
    """What a CKAN client does with ``_links.next``: call the action again with the link's
    query. Each page holds only matching rows, in order, until an empty page."""
    ckanapi = pytest.importorskip("ckanapi")
    with LiveServer(create_app(source)) as live:
        ckan = ckanapi.RemoteCKAN(live.url, user_agent="pseudolink-test", get_only=get_only)
        filters = {"sido": "대구광역시"}
        # In a GET, as in CKAN's own API, filters is a JSON string; a POST sends the object.
        page = ckan.action.datastore_search(resource_id="synthetic-people",
                                            filters=json.dumps(filters) if get_only else filters,
                                            sort="households asc", limit=9)
        seen, pages = [], 0
        while page["records"]:
            seen += page["records"]
            pages += 1
            link = urlsplit(page["_links"]["next"])
            assert link.path.endswith("/action/datastore_search")  # ckanapi: /api/action/
            query = {key: values[0] for key, values in parse_qs(link.query).items()}
            if not get_only:  # a POST carries the JSON values themselves
                query = {key: json.loads(value) if key == "filters" else value
                         for key, value in query.items()}
            page = ckan.action.datastore_search(**query)
    assert {r["sido"] for r in seen} == {"대구광역시"}
    assert len(seen) == page["total"] == 83 and pages == 10
    counts = [r["households"] for r in seen]
    assert counts == sorted(counts)
    assert len({r["_id"] for r in seen}) == 83


def test_write_actions_and_sql_are_refused_in_ckans_shape(client, released):
    for action in ("package_create", "organization_create", "datastore_search_sql",
                   "resource_patch"):
        answer = client.post(ACTION + action, json={"name": "x"})
        assert answer.status_code == 403
        assert answer.json()["error"]["__type"] == "Authorization Error"


def test_ckanapi_cli_actions_and_dump(source, released, tmp_path):
    pytest.importorskip("ckanapi")
    with LiveServer(create_app(source)) as live:
        listed = _ckanapi_cli("action", "organization_list", "-r", live.url)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == ["combination-agency"]
        shown = _ckanapi_cli("action", "organization_show", "id=combination-agency",
                             "-r", live.url)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["package_count"] == 2
        out = tmp_path / "orgs.jsonl"
        dumped = _ckanapi_cli("dump", "organizations", "--all", "-r", live.url, "-O", str(out),
                              "-p", "1", "-q")
        assert dumped.returncode == 0, dumped.stderr
        (line,) = out.read_text(encoding="utf-8").splitlines()
        assert json.loads(line)["name"] == "combination-agency"
