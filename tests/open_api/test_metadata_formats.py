"""Metadata as a Frictionless Data Package and as DCAT-AP 3; rows as XML."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest
import rdflib
from rdflib.compare import isomorphic

from tests.open_api.conftest import write_release

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")


def test_data_package_states_types_and_constraints(client, districts):
    package = client.get("/api/v1/datasets/districts/datapackage.json").json()
    assert package["profile"] == "tabular-data-package"
    (resource,) = package["resources"]
    assert resource["path"] == "data.csv"
    fields = {f["name"]: f for f in resource["schema"]["fields"]}
    assert fields["sigungu"]["type"] == "string"
    assert fields["sigungu"]["constraints"] == {
        "required": True, "enum": ["강남구", "강서구", "노원구", "중랑구"]}
    assert fields["households"]["type"] == "integer"
    assert fields["households"]["constraints"] == {"required": True, "minimum": 40,
                                                   "maximum": 120}
    assert fields["share"]["constraints"] == {"required": False, "minimum": 0.25,
                                              "maximum": 1.5}
    assert fields["surveyed"]["type"] == "date"
    assert fields["surveyed"]["constraints"]["minimum"] == "2025-11-01"
    assert fields["urban"]["type"] == "boolean"
    assert package["licenses"][0]["name"] == "KOGL-Type1"


def test_data_csv_beside_the_descriptor_is_the_csv(client, districts):
    assert (client.get("/api/v1/datasets/districts/data.csv").content
            == client.get("/api/v1/datasets/districts.csv").content)


def _frictionless() -> list[str]:
    found = shutil.which("frictionless", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("frictionless is not installed")
    return [found]


def test_frictionless_validate_passes_on_the_downloaded_csv_and_package(client, source,
                                                                        tmp_path):
    table = pa.table({
        "sido": ["서울특별시", "부산광역시", "서울특별시", ""],
        "n": pa.array([3, 1, 4, None], pa.int64()),
        "rate": [0.1, float("nan"), 1e-7, 2.5],
        "ok": [True, False, None, True],
        "note": ['a,"b"', "two\nlines", None, "x"],
    })
    source.add(write_release(tmp_path / "people.parquet", table, form="synthetic"))
    out = tmp_path / "download"
    out.mkdir()
    (out / "datapackage.json").write_bytes(
        client.get("/api/v1/datasets/people/datapackage.json").content)
    (out / "data.csv").write_bytes(client.get("/api/v1/datasets/people/data.csv").content)
    result = subprocess.run([*_frictionless(), "validate", "--json", "datapackage.json"],
                            cwd=out, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report, ensure_ascii=False)[:2000]
    assert result.returncode == 0


def test_frictionless_finds_a_csv_that_breaks_the_schema(client, districts, tmp_path):
    (tmp_path / "datapackage.json").write_bytes(
        client.get("/api/v1/datasets/districts/datapackage.json").content)
    broken = client.get("/api/v1/datasets/districts/data.csv").text.replace("120", "999")
    (tmp_path / "data.csv").write_text(broken, encoding="utf-8")
    result = subprocess.run([*_frictionless(), "validate", "--json", "datapackage.json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert not json.loads(result.stdout)["valid"]  # maximum 120 is a real constraint


def test_dcat_jsonld_and_turtle_are_the_same_graph(client, districts):
    jsonld = client.get("/api/v1/datasets/districts.jsonld")
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    turtle = client.get("/api/v1/datasets/districts.ttl")
    assert turtle.headers["content-type"].startswith("text/turtle")
    from_json = rdflib.Graph().parse(data=jsonld.text, format="json-ld")
    from_turtle = rdflib.Graph().parse(data=turtle.text, format="turtle")
    assert isomorphic(from_json, from_turtle)
    dataset = rdflib.URIRef("http://testserver/api/v1/datasets/districts")
    assert (dataset, rdflib.RDF.type, DCAT.Dataset) in from_turtle
    assert str(from_turtle.value(dataset, DCT.title)) == districts.title
    assert from_turtle.value(dataset, DCT.description) is not None
    distributions = list(from_turtle.objects(dataset, DCAT.distribution))
    assert len(distributions) == 4
    for distribution in distributions:
        assert from_turtle.value(distribution, DCAT.accessURL) is not None
        assert str(from_turtle.value(distribution, DCT.license)).startswith(
            "https://www.kogl.or.kr/")


def test_dcat_catalogue_lists_every_published_dataset(client, source, districts, tmp_path):
    source.add(write_release(tmp_path / "other.parquet", pa.table({"a": [1]}),
                             title='Quotes " and \\ backslashes\nnewline'))
    graph = rdflib.Graph().parse(data=client.get("/api/v1/catalog.ttl").text, format="turtle")
    catalogue = rdflib.URIRef("http://testserver/api/v1/catalog")
    assert (catalogue, rdflib.RDF.type, DCAT.Catalog) in graph
    assert len(list(graph.objects(catalogue, DCAT.dataset))) == 2
    titles = {str(t) for t in graph.objects(None, DCT.title)}
    assert 'Quotes " and \\ backslashes\nnewline' in titles
    from_json = rdflib.Graph().parse(data=client.get("/api/v1/catalog.jsonld").text,
                                     format="json-ld")
    assert isomorphic(graph, from_json)


def test_rows_as_xml_page_and_whole_download(client, districts):
    page = ET.fromstring(client.get("/api/v1/datasets/districts/rows",
                                    params={"format": "xml", "limit": 2, "offset": 1}).content)
    assert page.attrib == {"dataset": "districts", "total": "4", "limit": "2", "offset": "1"}
    assert [row.findtext("sigungu") for row in page] == ["노원구", "중랑구"]
    whole = client.get("/api/v1/datasets/districts.xml", params={"households": "85"})
    assert whole.headers["content-type"].startswith("application/xml")
    rows = ET.fromstring(whole.content).findall("row")
    assert [row.findtext("sigungu") for row in rows] == ["노원구", "중랑구"]


def test_xml_writes_odd_column_names_and_control_characters_safely(client, source, tmp_path):
    table = pa.table({"a b": ["x\x01y"], "1st": ["<&>"]})
    source.add(write_release(tmp_path / "odd.parquet", table))
    root = ET.fromstring(client.get("/api/v1/datasets/odd.xml").content)
    fields = root.find("row").findall("field")
    assert [(f.get("name"), f.text) for f in fields] == [("a b", "x\ufffdy"), ("1st", "<&>")]
