"""Concurrent release lookups share catalog queries without ever answering from one that
began before the request: a revocation is seen by the very next request."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from open_api.lookups import SharedLookups


def test_a_request_after_a_revocation_never_gets_the_answer_of_a_lookup_already_running():
    state = {"r1": "published"}
    started = threading.Event()

    def slow_catalog(key: str) -> str:
        seen = state[key]  # the query's snapshot is taken when it starts
        started.set()
        time.sleep(0.3)
        return seen

    lookups = SharedLookups(slow_catalog)
    with ThreadPoolExecutor(2) as pool:
        before = pool.submit(lookups.get, "r1")
        assert started.wait(5)
        state["r1"] = "revoked"  # committed while the first lookup still runs
        after = pool.submit(lookups.get, "r1")
        assert before.result(5) == "published"
        assert after.result(5) == "revoked"


def test_many_concurrent_requests_share_few_lookups():
    calls = []

    def catalog(key: str) -> str:
        calls.append(key)
        time.sleep(0.05)
        return f"release {key}"

    lookups = SharedLookups(catalog)
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lookups.get, ["r1"] * 200 + ["r2"] * 40))
    assert answers == ["release r1"] * 200 + ["release r2"] * 40
    assert len(calls) < 60  # one lookup per query's duration, not one per request


def test_an_outage_reaches_every_request_that_shared_the_lookup():
    catalog_up = threading.Event()

    def catalog(key: str) -> str:
        time.sleep(0.05)
        if not catalog_up.is_set():
            raise ConnectionError("catalog refuses connections")
        return "back"

    lookups = SharedLookups(catalog)
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(lookups.get, "r1") for _ in range(10)]
        for future in futures:
            with pytest.raises(ConnectionError):
                future.result(5)
    catalog_up.set()
    # The next request looks again rather than inheriting the failure.
    assert lookups.get("r1") == "back"
