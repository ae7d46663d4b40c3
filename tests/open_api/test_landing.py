"""The landing page lists what is published, with every catalog value escaped."""

from __future__ import annotations

from tests.open_api.conftest import DISTRICTS, write_release


def test_landing_page_links_each_dataset_csv_and_metadata(client, districts):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Old housing of benefit recipients by district" in response.text
    assert 'href="/api/v1/datasets/districts.csv"' in response.text
    assert 'href="/api/v1/datasets/districts"' in response.text


def test_landing_page_escapes_titles_descriptions_and_ids(client, source, tmp_path):
    source.add(write_release(tmp_path / "x.parquet", DISTRICTS, id='"><script>1</script>',
                             title="<script>alert(1)</script>",
                             description="<img src=x onerror=alert(1)>"))
    page = client.get("/").text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "%22%3E%3Cscript%3E1%3C%2Fscript%3E.csv" in page


def test_empty_landing_page_says_so_in_korean_by_default_and_in_english(client):
    assert "아직 공개된 데이터가 없습니다." in client.get("/").text
    assert "No datasets are published yet." in client.get("/", params={"lang": "en"}).text
