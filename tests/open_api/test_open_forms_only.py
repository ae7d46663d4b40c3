"""Only open-data forms are ever served: a take-out or room extract never is (issue 16).

The catalog's own listing already leaves them out; these tests hand the API a source that
does not (a lagging cache, a hand-made source, a catalog bug) and check every face.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from open_api import create_app
from tests.open_api.conftest import DISTRICTS, write_release

CLOSED_FORMS = ("take_out", "secure_room")


@pytest.fixture
def leaky(tmp_path, source, keys):
    """A source that lists a take-out and a room extract beside an open DP table."""
    source.add(write_release(tmp_path / "dp-table.parquet", DISTRICTS))
    for form in CLOSED_FORMS:
        source.add(write_release(tmp_path / f"{form}-extract.parquet", DISTRICTS, form=form))
    return TestClient(create_app(source, keys=keys), raise_server_exceptions=False)


def test_native_listing_shows_only_the_open_data_release(leaky):
    listed = leaky.get("/api/v1/datasets").json()
    assert [d["id"] for d in listed["datasets"]] == ["dp-table"]


@pytest.mark.parametrize("form", CLOSED_FORMS)
@pytest.mark.parametrize("endpoint", ["", "/rows", ".csv"])
def test_take_out_and_room_extract_are_404_on_the_native_face(leaky, form, endpoint):
    assert leaky.get(f"/api/v1/datasets/{form}-extract{endpoint}").status_code == 404


def test_ckan_package_list_and_search_show_only_the_open_data_release(leaky):
    assert leaky.get("/api/3/action/package_list").json()["result"] == ["dp-table"]
    found = leaky.get("/api/3/action/package_search").json()["result"]
    assert [p["name"] for p in found["results"]] == ["dp-table"]
    for form in CLOSED_FORMS:
        shown = leaky.get("/api/3/action/package_show", params={"id": f"{form}-extract"})
        assert shown.status_code == 404


@pytest.mark.parametrize("form", CLOSED_FORMS)
def test_take_out_is_not_served_through_the_public_data_portal(leaky, keys, form):
    key = keys.issue_api_key("citizen", actor="officer")
    answer = leaky.get(f"/openapi/{form}-extract/getList",
                       params={"serviceKey": key, "type": "json"})
    assert "item" not in str(answer.json().get("response", {}).get("body", ""))
    assert answer.json()["response"]["header"]["resultCode"] != "00"
