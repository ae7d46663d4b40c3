"""10,000 malformed requests across every face find no server error.

Schemathesis (test_schemathesis.py) explores what the OpenAPI document describes; this
test throws what a careless or hostile client sends: broken and deeply nested JSON,
values of the wrong type, huge and tiny numbers, NUL bytes and odd Unicode, very long
values, unknown parameters, wrong methods. Seeded, so a failure replays.
"""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from tests.open_api.test_dp_query import MeteredSource, metered  # noqa: F401 (fixture)

REQUESTS = 10_000

PATHS = [
    "/", "/?lang=en", "/datasets/housing-dp", "/datasets/districts", "/docs", "/redoc",
    "/openapi.json", "/api/v1/datasets", "/api/v1/datasets/districts",
    "/api/v1/datasets/districts/rows", "/api/v1/datasets/districts.csv",
    "/api/v1/datasets/districts.xml", "/api/v1/datasets/districts.parquet",
    "/api/v1/datasets/districts/datapackage.json", "/api/v1/datasets/districts.jsonld",
    "/api/v1/datasets/districts.ttl", "/api/v1/catalog.jsonld", "/openapi/districts/getList",
    "/api/3/action/package_list", "/api/3/action/package_show",
    "/api/3/action/package_search", "/api/3/action/datastore_search",
    "/api/3/action/resource_show", "/api/3/action/organization_show",
    "/api/3/action/tag_list", "/api/3/action/help_show", "/api/3/action/status_show",
    "/api/3/action/current_package_list_with_resources", "/datastore/dump/districts",
    "/api/v1/dp/query",
]
PARAMETERS = ["id", "resource_id", "q", "fq", "filters", "limit", "offset", "sort", "order",
              "rows", "start", "fields", "bom", "encoding", "format", "pageNo", "numOfRows",
              "type", "serviceKey", "sigungu", "households", "lang", "records_format",
              "include_total", "name", "all_fields", "page"]


def _deep(rng: random.Random) -> str:
    depth = rng.choice([50, 2_000, 20_000])
    return "[" * depth + "]" * depth


def _value(rng: random.Random) -> str:
    choices = [
        lambda: "",
        lambda: str(rng.randint(-10**30, 10**30)),
        lambda: repr(rng.choice([1e-300, -0.0, 1e308, float("nan"), float("inf")])),
        lambda: "x" * rng.choice([1, 100, 5_000]),
        lambda: "\x00" + "가" * rng.randint(0, 50),
        lambda: rng.choice(['name:"abc', 'tags:"', '"', "'", "\\", "%", "%00", "*:*"]),
        lambda: '{"sigungu": ' + rng.choice(['"강남구"}', "[1,2", '{"a":1}}', "null}"]),
        lambda: _deep(rng)[:4_000],
        lambda: rng.choice(["true", "false", "yes", "1", "-1", "0", "1.5", "desc", "asc",
                            "csv", "tsv", "lists", "objects", "xml", "json", "cp949",
                            "utf-16", "en", "ko"]),
        lambda: "\ud7a3\U0001f600\u202e" * rng.randint(1, 20),
        lambda: rng.choice(["districts", "housing-dp", "../etc/passwd", "combination-agency",
                            "nope"]),
    ]
    return rng.choice(choices)()


def _body(rng: random.Random) -> tuple[bytes, str]:
    shapes = [
        lambda: json.dumps({"dataset": rng.choice(["housing-dp", "districts", ""]),
                            "statistic": rng.choice(["count", "sum", "mean", "quantile",
                                                     "median", "", 1, None]),
                            "column": rng.choice(["age", "sido", None, 3, "nope"]),
                            "epsilon": rng.choice([1e-300, 1e-12, 0, -1, 0.5, 1e300, "a",
                                                   None, float("inf")]),
                            "by": rng.choice([[], ["sido"], ["age"], "sido", [["x"]]]),
                            "quantile": rng.choice([None, 0.5, 2, -1, "x"])},
                           allow_nan=True),
        lambda: _deep(rng),
        lambda: '{"dataset": "housing-dp", "statistic": ',
        lambda: json.dumps({rng.choice(PARAMETERS): _value(rng) for _ in range(3)}),
        lambda: "[]",
        lambda: "null",
        lambda: "\x00\xff",
    ]
    content_type = rng.choice(["application/json", "text/plain",
                               "application/x-www-form-urlencoded", ""])
    return rng.choice(shapes)().encode("utf-8", "surrogatepass"), content_type


@pytest.mark.timeout(900)
def test_malformed_requests_never_cause_a_server_error(metered, tmp_path):  # noqa: F811
    client, source = metered
    source.add(__import__("tests.open_api.conftest", fromlist=["write_release"]).write_release(
        tmp_path / "districts.parquet",
        pa.table({"sigungu": ["강남구", "노원구"], "households": [120, 85]}),
        id="districts"))
    rng = random.Random(20261204)
    failures: list[str] = []
    for number in range(REQUESTS):
        path = rng.choice(PATHS)
        params = [(rng.choice(PARAMETERS), _value(rng)) for _ in range(rng.randint(0, 4))]
        method = rng.choice(["GET", "GET", "POST", "PUT", "DELETE", "HEAD"])
        headers = {"X-API-Key": rng.choice(["good", "plain", "old", "bad", ""])}
        content, content_type = (b"", "")
        if method in {"POST", "PUT"}:
            content, content_type = _body(rng)
            if content_type:
                headers["content-type"] = content_type
        try:
            response = client.request(method, path, params=params, content=content or None,
                                      headers=headers)
        except Exception as exc:  # the client refusing to send it is not the server's fault
            if "URL" in type(exc).__name__ or "too long" in str(exc):
                continue
            raise
        if response.status_code >= 500 and response.status_code != 503:
            failures.append(f"#{number} {method} {path} {params!r:.300} -> "
                            f"{response.status_code} {response.text[:200]}")
    assert failures == [], "\n".join(failures[:20])
