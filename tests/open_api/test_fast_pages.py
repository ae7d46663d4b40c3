"""Plain pages of /rows (limit and offset only) skip FastAPI's routing: the same answer as
through FastAPI, and every other request, or one the fast path cannot answer with a page,
still gets FastAPI's answer (keys checked, bad values refused, hidden releases 404)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from open_api import create_app, fast_pages
from tests.open_api.conftest import hide

ROWS = "/api/v1/datasets/districts/rows"


@pytest.fixture
def fast(monkeypatch) -> list[str]:
    """The release ids of the pages the fast path answered."""
    answered: list[str] = []
    real = fast_pages.rows_response

    def counted(release, *args):
        answered.append(release.id)
        return real(release, *args)

    monkeypatch.setattr(fast_pages, "rows_response", counted)
    return answered


def test_a_plain_page_is_the_same_answer_as_through_fastapi(client, districts, fast):
    plain = client.get(ROWS, params={"limit": 2, "offset": 1})
    assert fast == ["districts"]
    routed = client.get(ROWS, params={"limit": 2, "offset": 1, "order": "asc"})
    assert fast == ["districts"]  # a parameter other than limit/offset: FastAPI's way
    assert plain.status_code == routed.status_code == 200
    assert plain.content == routed.content
    assert plain.headers["content-type"] == routed.headers["content-type"]
    assert plain.json()["rows"][0]["sigungu"] == "노원구"
    assert client.get(ROWS).json()["limit"] == 100  # the defaults, as FastAPI's


@pytest.mark.parametrize("query", ["limit=0", "limit=10001", "limit=abc", "offset=-1",
                                   "limit=1&limit=2", "limit=%31", "limit=1&extra", "limit="])
def test_anything_but_plain_bounded_numbers_is_left_to_fastapi(client, districts, fast, query):
    expected = TestClient(create_app(client.app.state.source)).get(f"{ROWS}?{query}&order=asc")
    response = client.get(f"{ROWS}?{query}")
    assert response.status_code == expected.status_code
    assert response.content == expected.content
    if query != "limit=%31":  # "1", percent-encoded: a plain number once decoded
        assert fast == []


def test_a_request_with_a_key_is_checked_by_fastapi(client, districts, fast):
    assert client.get(ROWS, headers={"X-API-Key": "made-up"}).status_code == 401
    assert client.get(ROWS, params={"api_key": "made-up"}).status_code == 401
    assert fast == []


def test_a_hidden_release_is_404_through_the_fast_path(client, source, districts, fast):
    assert client.get(ROWS).status_code == 200
    hide(source, districts)
    response = client.get(ROWS)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert fast == ["districts"]
