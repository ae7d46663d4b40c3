"""Pages are made on the event loop from a release lookup shared by concurrent requests
(``AsyncSharedLookups``): never from a lookup that began before the request arrived, so a
revocation, or an artifact swapped on disk, is seen by the very next request, on SQLite and
PostgreSQL catalogs alike."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

import catalog
from open_api import create_app
from open_api.lookups import AsyncSharedLookups
from tests.accounts import officer
from tests.conftest import fresh_postgres_database
from tests.open_api.conftest import DISTRICTS, sha256


def test_a_request_after_a_revocation_never_gets_the_answer_of_a_lookup_already_running():
    state = {"r1": "published"}
    started = threading.Event()

    def slow_catalog(key: str) -> str:
        seen = state[key]  # the query's snapshot is taken when it starts
        started.set()
        time.sleep(0.3)
        return seen

    async def scenario() -> tuple[str, str]:
        lookups = AsyncSharedLookups(slow_catalog)
        before = asyncio.ensure_future(lookups.get("r1"))
        assert await asyncio.to_thread(started.wait, 5)
        state["r1"] = "revoked"  # committed while the first lookup still runs
        after = asyncio.ensure_future(lookups.get("r1"))
        return await before, await after

    assert asyncio.run(scenario()) == ("published", "revoked")


def test_many_concurrent_requests_share_few_lookups():
    calls = []

    def catalog_lookup(key: str) -> str:
        calls.append(key)
        time.sleep(0.05)
        return f"release {key}"

    async def scenario() -> list[str]:
        lookups = AsyncSharedLookups(catalog_lookup)
        return await asyncio.gather(*(lookups.get(k) for k in ["r1"] * 200 + ["r2"] * 40))

    assert asyncio.run(scenario()) == ["release r1"] * 200 + ["release r2"] * 40
    assert len(calls) <= 4  # one lookup running and one queued per release


def test_an_outage_reaches_every_request_that_shared_the_lookup_then_the_next_looks_again():
    catalog_up = threading.Event()

    def catalog_lookup(key: str) -> str:
        time.sleep(0.05)
        if not catalog_up.is_set():
            raise ConnectionError("catalog refuses connections")
        return "back"

    async def scenario() -> tuple[list, str]:
        lookups = AsyncSharedLookups(catalog_lookup)
        failed = await asyncio.gather(*(lookups.get("r1") for _ in range(10)),
                                      return_exceptions=True)
        catalog_up.set()
        return failed, await lookups.get("r1")

    failed, after = asyncio.run(scenario())
    assert all(isinstance(f, ConnectionError) for f in failed)
    assert after == "back"


def test_a_client_that_hangs_up_does_not_cancel_the_lookup_others_wait_for():
    def catalog_lookup(key: str) -> str:
        time.sleep(0.1)
        return "published"

    async def scenario() -> str:
        lookups = AsyncSharedLookups(catalog_lookup)
        first = asyncio.ensure_future(lookups.get("r1"))  # leads the lookup
        second = asyncio.ensure_future(lookups.get("r1"))
        await asyncio.sleep(0.02)
        first.cancel()
        return await asyncio.wait_for(second, 5)

    assert asyncio.run(scenario()) == "published"


def _catalog_with_release(url: str, tmp_path: Path) -> Path:
    catalog.init_catalog(url)
    artifact = tmp_path / "by-district.parquet"
    pq.write_table(DISTRICTS, artifact)
    with catalog.Catalog.connect(url) as cat:
        officer(cat, "officer")
        cat.register_dataset("housing", title="Housing", path=str(artifact), columns={},
                             project_id=None, lineage={}, actor="officer")
        cat.record_release("by-district", dataset_id="housing", form="dp_aggregate",
                           title="Households by district", artifact=str(artifact),
                           checksum=sha256(artifact), parameters={"epsilon": 0.5},
                           actor="officer")
    return artifact


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    with fresh_postgres_database("pseudolink_test_pages") as url:
        yield url


PAGE = "/api/v1/datasets/by-district/rows?limit=2"


async def _pages_then_revoke(url: str) -> tuple[list[int], int, str]:
    """Pages under concurrent load, a revocation committed while they run, the next page."""
    app = create_app(url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as client:
        assert (await client.get(PAGE)).status_code == 200
        in_flight = [asyncio.ensure_future(client.get(PAGE)) for _ in range(50)]
        await asyncio.sleep(0)
        with catalog.Catalog.connect(url) as cat:
            await asyncio.to_thread(cat.revoke_release, "by-district", actor="officer",
                                    reason="re-identification risk")
        during = [r.status_code for r in await asyncio.gather(*in_flight)]
        after = await client.get(PAGE)
        return during, after.status_code, after.json()["error"]["code"]


def test_a_page_after_a_revocation_is_refused_even_under_concurrent_load(catalog_url, tmp_path):
    _catalog_with_release(catalog_url, tmp_path)
    during, status, code = asyncio.run(_pages_then_revoke(catalog_url))
    assert set(during) <= {200, 404}  # those in flight may go either way; none fails
    assert (status, code) == (404, "not_found")


def test_a_page_after_the_artifact_was_tampered_with_is_withheld(catalog_url, tmp_path):
    artifact = _catalog_with_release(catalog_url, tmp_path)

    async def scenario() -> tuple[int, int, str]:
        app = create_app(catalog_url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as client:
            first = (await client.get(PAGE)).status_code
            pq.write_table(DISTRICTS.slice(0, 1), artifact)  # swapped on disk
            after = await client.get(PAGE)
            return first, after.status_code, after.json()["error"]["code"]

    assert asyncio.run(scenario()) == (200, 503, "artifact_unavailable")
