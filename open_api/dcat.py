"""Releases described in DCAT-AP 3, written as JSON-LD and as Turtle from one small graph.

Each release is a ``dcat:Dataset`` with its distributions (CSV, JSON rows, XML, the Data
Package) and licence; the catalogue is a ``dcat:Catalog`` listing them. The graph is built
once as nodes and written by two serialisers, so the two formats cannot say different things.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from open_api.licence import licence_for
from open_api.parameters import public_parameters
from open_api.source import Release

PREFIXES = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
_MEDIA_TYPE = "http://www.iana.org/assignments/media-types/"


@dataclass(frozen=True)
class Iri:
    value: str


@dataclass(frozen=True)
class Literal:
    text: str
    datatype: str | None = None  # a prefixed name such as "xsd:dateTime"


@dataclass
class Node:
    """A resource: an IRI (or a blank node when None), its types and its properties."""

    iri: str | None
    types: list[str]
    properties: list[tuple[str, Iri | Literal | Node]] = field(default_factory=list)

    def add(self, predicate: str, value: Iri | Literal | Node | str | None) -> Node:
        if value is None or value == "":
            return self
        self.properties.append((predicate, Literal(value) if isinstance(value, str) else value))
        return self


def _when(moment: datetime) -> Literal:
    return Literal(moment.isoformat(), "xsd:dateTime")


def _distribution(url: str, title: str, media: str, file_type: str, licence: Iri | None
                  ) -> Node:
    node = Node(url, ["dcat:Distribution"])
    node.add("dct:title", title).add("dcat:accessURL", Iri(url)).add("dcat:downloadURL", Iri(url))
    node.add("dcat:mediaType", Iri(_MEDIA_TYPE + media))
    node.add("dct:format", Iri(_FILE_TYPE + file_type))
    return node.add("dct:license", licence)


def publisher(name: str) -> Node:
    return Node(None, ["foaf:Agent"]).add("foaf:name", name)


def dataset_node(release: Release, dataset_url: str, publisher_name: str) -> Node:
    """The ``dcat:Dataset`` of a release whose metadata lives at ``dataset_url``."""
    licence = licence_for(release.parameters)
    licence_iri = Iri(licence["url"]) if licence["url"] else None
    node = Node(dataset_url, ["dcat:Dataset"])
    node.add("dct:identifier", release.id).add("dct:title", release.title)
    # DCAT-AP requires a description; a release without one says what it is.
    node.add("dct:description", release.description or f"{release.title} ({release.form})")
    node.add("dct:issued", _when(release.created_at))
    node.add("dct:publisher", publisher(publisher_name))
    node.add("dcat:keyword", release.form)
    node.add("dcat:landingPage", Iri(dataset_url))
    provenance = f"released as {release.form} from catalog dataset {release.dataset_id}"
    if release.parameters:
        provenance += "; parameters " + json.dumps(public_parameters(release.parameters),
                                                   sort_keys=True,
                                                   ensure_ascii=False)
    node.add("dct:provenance", Node(None, ["dct:ProvenanceStatement"]).add("rdfs:label",
                                                                           provenance))
    for suffix, title, media, file_type in (
        (".csv", "CSV", "text/csv", "CSV"),
        ("/rows", "JSON rows (paged)", "application/json", "JSON"),
        (".xml", "XML", "application/xml", "XML"),
        ("/datapackage.json", "Frictionless Data Package", "application/json", "JSON"),
    ):
        node.add("dcat:distribution",
                 _distribution(dataset_url + suffix, title, media, file_type, licence_iri))
    return node


def catalog_node(releases: list[Release], api_url: str, publisher_name: str) -> Node:
    """The ``dcat:Catalog`` at ``{api_url}/catalog``, its datasets in full."""
    node = Node(f"{api_url}/catalog", ["dcat:Catalog"])
    node.add("dct:title", "pseudolink open data")
    node.add("dct:description", "Datasets released by a pseudonymised-data combination agency: "
             "differentially private aggregates and synthetic microdata.")
    node.add("dct:publisher", publisher(publisher_name))
    node.add("foaf:homepage", Iri(api_url.rsplit("/api/v1", 1)[0] + "/"))
    for release in releases:
        url = f"{api_url}/datasets/{quote(release.id, safe='')}"
        node.add("dcat:dataset", dataset_node(release, url, publisher_name))
    return node


# JSON-LD ---------------------------------------------------------------------------------


def _jsonld_value(value: Iri | Literal | Node) -> object:
    if isinstance(value, Iri):
        return {"@id": value.value}
    if isinstance(value, Literal):
        return value.text if value.datatype is None else {"@value": value.text,
                                                          "@type": value.datatype}
    return _jsonld_node(value)


def _jsonld_node(node: Node) -> dict:
    out: dict[str, object] = {}
    if node.iri is not None:
        out["@id"] = node.iri
    out["@type"] = node.types[0] if len(node.types) == 1 else node.types
    for predicate, value in node.properties:
        converted = _jsonld_value(value)
        if predicate in out:
            existing = out[predicate]
            out[predicate] = [*existing, converted] if isinstance(existing, list) else [
                existing, converted]
        else:
            out[predicate] = converted
    return out


def to_jsonld(node: Node) -> dict:
    """The node as a JSON-LD document with the DCAT prefixes in its context."""
    return {"@context": dict(PREFIXES), **_jsonld_node(node)}


# Turtle ----------------------------------------------------------------------------------

_IRI_UNSAFE = '<>"{}|^`\\ '


def _turtle_iri(iri: str) -> str:
    """An IRI in angle brackets, characters Turtle forbids there percent-encoded.

    >>> _turtle_iri("http://x/a b")
    '<http://x/a%20b>'
    """
    safe = "".join(quote(c, safe="") if c in _IRI_UNSAFE or ord(c) < 0x21 else c for c in iri)
    return f"<{safe}>"


def _turtle_string(text: str) -> str:
    r"""A string literal.

    >>> _turtle_string('say "hi"\n')
    '"say \\"hi\\"\\n"'
    """
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{escaped}"'


def _turtle_object(value: Iri | Literal | Node, indent: str, later: list[Node]) -> str:
    if isinstance(value, Iri):
        return _turtle_iri(value.value)
    if isinstance(value, Literal):
        text = _turtle_string(value.text)
        return text if value.datatype is None else f"{text}^^{value.datatype}"
    if value.iri is not None:
        later.append(value)  # a named resource gets its own block
        return _turtle_iri(value.iri)
    return "[\n" + _turtle_body(value, indent + "    ", later) + f"\n{indent}]"


def _turtle_body(node: Node, indent: str, later: list[Node]) -> str:
    lines = [f"{indent}a {', '.join(node.types)}"]
    for predicate, value in node.properties:
        lines.append(f"{indent}{predicate} {_turtle_object(value, indent, later)}")
    return " ;\n".join(lines)


def to_turtle(node: Node) -> str:
    """The node and every named node it reaches, as a Turtle document."""
    out = [f"@prefix {prefix}: <{iri}> ." for prefix, iri in PREFIXES.items()]
    out.append("")
    pending, seen = [node], set()
    while pending:
        current = pending.pop(0)
        if current.iri in seen:
            continue
        seen.add(current.iri)
        later: list[Node] = []
        out.append(f"{_turtle_iri(current.iri or '')}\n{_turtle_body(current, '    ', later)} .\n")
        pending.extend(later)
    return "\n".join(out)
