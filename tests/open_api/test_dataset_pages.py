"""A page per open dataset: what it is, its columns, licence and parameters, a preview, and
downloads that Korean Excel and data tools open correctly."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import pyarrow.parquet as pq

from tests.open_api.conftest import DISTRICTS, write_release


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def test_landing_links_each_dataset_page(client, districts):
    assert "/datasets/districts?lang=ko" in _links(client.get("/").text)
    assert "/datasets/districts?lang=en" in _links(client.get("/?lang=en").text)


def test_dataset_page_shows_form_licence_columns_parameters_and_preview(client, source,
                                                                        tmp_path):
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS, title="구별 가구",
                             description="차분 프라이버시로 보호된 집계",
                             parameters={"epsilon": 0.5},
                             columns={"sigungu": "quasi_identifier"}))
    page = client.get("/datasets/by-district")
    assert page.status_code == 200
    text = page.text
    for expected in ("구별 가구", "차분 프라이버시 집계표", "공공누리 제1유형", "프라이버시 예산 ε",
                     "0.5", "sigungu", "준식별자", "노원구", "KST"):
        assert expected in text, expected
    english = client.get("/datasets/by-district", params={"lang": "en"}).text
    for expected in ("Differentially private aggregate", "Privacy budget ε", "Quasi-identifier",
                     "Preview (first 4 rows)"):
        assert expected in english, expected


def test_every_download_on_the_page_works_and_excel_gets_a_bom(client, source, tmp_path):
    release = source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS))
    hrefs = [h for h in _links(client.get("/datasets/by-district").text)
             if h.startswith("/api/v1/datasets/by-district")]
    assert len(hrefs) >= 7
    for href in hrefs:
        answer = client.get(href)
        assert answer.status_code == 200, href
    excel = client.get("/api/v1/datasets/by-district.csv?bom=true").content
    assert excel.startswith(b"\xef\xbb\xbf")
    assert "강남구" in excel.decode("utf-8-sig")
    parquet = client.get("/api/v1/datasets/by-district.parquet")
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(parquet.content)).equals(pq.read_table(release.artifact))
    package = json.loads(client.get("/api/v1/datasets/by-district/datapackage.json").text)
    assert package["resources"]


def test_hidden_dataset_has_no_page(client, source, districts):
    source.hidden.add("districts")
    assert client.get("/datasets/districts").status_code == 404
    assert client.get("/api/v1/datasets/districts.parquet").status_code == 404


def test_dataset_page_escapes_what_people_wrote(client, source, tmp_path):
    source.add(write_release(tmp_path / "x.parquet", DISTRICTS, id="x",
                             title="<script>alert(1)</script>",
                             description="<img src=x onerror=alert(1)>"))
    page = client.get("/datasets/x").text
    assert "<script>alert" not in page and "<img" not in page


def test_every_parameter_a_release_publishes_has_a_label_in_both_languages(client, source,
                                                                           tmp_path):
    """A Korean page used to show `rows`, `dropped_columns`, `mechanism`, `accuracy_95`
    (3.3756177665957123) as their code names; every parameter `release dp`, the demo and
    `release synth` publish is named for a person, and a float is rounded for reading."""
    import re

    # The keys anonymize's DPTableRelease.parameters writes (and the demo a subset of).
    dp_table = {"epsilon": 1.0, "delta": 0.0, "mechanism": "discrete_laplace",
                "privacy": "pure epsilon-differential privacy, person-level",
                "noise_scale": 1.0, "accuracy_95": 3.3756177665957123, "confidence": 0.95,
                "statistic": "count", "column": None, "cells": 2, "privacy_unit": "link_id",
                "max_contributions": 1, "consumer": "public", "clamping_bounds": [0, 10]}
    synthetic = {"synthesizer": "default", "rows": 300, "dropped_columns": ["link_id"],
                 "constraints": ["area columns sampled jointly: sido, sigungu"]}
    source.add(write_release(tmp_path / "dp-table.parquet", DISTRICTS, parameters=dp_table))
    source.add(write_release(tmp_path / "synthetic.parquet", DISTRICTS, form="synthetic",
                             parameters=synthetic))
    for release in ("dp-table", "synthetic"):
        for lang in ("ko", "en"):
            text = client.get(f"/datasets/{release}", params={"lang": lang}).text
            labels = re.findall(r"<tr><th>([^<]*)</th><td>", text)
            coded = [label for label in labels if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+|rows|"
                                                               r"mechanism|privacy|statistic|"
                                                               r"cells|consumer", label)]
            assert coded == [], (release, lang, coded)
    page = client.get("/datasets/dp-table").text
    assert "<td>3.376</td>" in page and "95% 정확도" in page
