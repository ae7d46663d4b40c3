"""Jobs at the exchange (procrastinate on PostgreSQL): deferred when a stage's inputs are
in, claimable only by the party whose stage it is, retried with readable errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import linkage
from linkage.exchange import ExchangeClient, ExchangeError, ExchangeState, open_exchange
from tests.conftest import fresh_postgres_database
from tests.linkage.conftest import PASSPHRASE

URL = "http://testserver"


@pytest.fixture
def exchange(world, tmp_path):
    with fresh_postgres_database("pseudolink_exchange") as database_url:
        ExchangeState(database_url).register(world.manifest)
        app = open_exchange(database_url, tmp_path / "files", lambda *entry: None)
        with TestClient(app) as http:  # runs the lifespan: the queue opens
            yield http


def client(http, world, party: str) -> ExchangeClient:
    return ExchangeClient(URL, linkage.load_party_secret(world.keys, party, PASSPHRASE),
                          http=http)


def push_keys(http, world) -> None:
    world.prepare_all()
    for holder in ("ssis", "building"):
        client(http, world, holder).push(world.manifest.id,
                                         world.exchange / f"{holder}.keys.age")


def test_link_job_waits_for_every_holders_keys_file(world, exchange):
    world.prepare_all()
    client(exchange, world, "ssis").push(world.manifest.id, world.exchange / "ssis.keys.age")
    km = client(exchange, world, "keymanager")
    worker = km.register_worker("key_manager")
    assert km.claim(worker) is None
    client(exchange, world, "building").push(world.manifest.id,
                                             world.exchange / "building.keys.age")
    job = km.claim(worker)
    assert (job["task"], job["project"], job["attempt"]) == ("link", world.manifest.id, 1)
    km.unregister_worker(worker)
    with pytest.raises(ExchangeError) as gone:
        km.claim(worker)
    assert gone.value.status == 410


def test_another_partys_worker_cannot_claim_or_finish_the_key_managers_job(world, exchange):
    push_keys(exchange, world)
    agency = client(exchange, world, "agency")
    agency_worker = agency.register_worker("combiner")
    assert agency.claim(agency_worker) is None  # its queue holds no link job
    km = client(exchange, world, "keymanager")
    km_worker = km.register_worker("key_manager")
    job = km.claim(km_worker)
    with pytest.raises(ExchangeError) as refused:
        agency.finish(job["id"], km_worker)  # posing with the key manager's worker id
    assert refused.value.status == 403
    with pytest.raises(ExchangeError) as refused:
        agency.finish(job["id"], agency_worker)
    assert refused.value.status == 409
    assert km.finish(job["id"], km_worker) == "succeeded"


def test_a_failed_attempt_is_retried_and_its_error_is_readable(world, exchange):
    push_keys(exchange, world)
    km = client(exchange, world, "keymanager")
    worker = km.register_worker("key_manager")
    job = km.claim(worker)
    assert km.finish(job["id"], worker, "LinkageError: disk full") == "todo"
    again = km.claim(worker)
    assert (again["id"], again["attempt"]) == (job["id"], 2)
    status = km.status(world.manifest.id)
    listed = next(j for j in status["jobs"] if j["id"] == job["id"])
    assert listed["status"] == "doing" and listed["attempts"] == 1
    assert listed["errors"][0]["error"] == "LinkageError: disk full"


def test_a_silent_workers_job_goes_back_and_the_worker_must_register_again(world, tmp_path):
    import time

    with fresh_postgres_database("pseudolink_exchange") as database_url:
        ExchangeState(database_url).register(world.manifest)
        app = open_exchange(database_url, tmp_path / "files", lambda *entry: None,
                            stalled_after=1)
        with TestClient(app) as http:
            push_keys(http, world)
            km = client(http, world, "keymanager")
            silent = km.register_worker("key_manager")
            job = km.claim(silent)
            time.sleep(2.5)  # no heartbeat: presumed dead
            other = km.register_worker("key_manager")
            again = km.claim(other)
            assert (again["id"], again["attempt"]) == (job["id"], 2)
            with pytest.raises(ExchangeError) as gone:
                km.claim(silent)
            assert gone.value.status == 410
            with pytest.raises(ExchangeError) as late:
                km.finish(job["id"], silent)  # its late answer no longer counts
            assert late.value.status == 409
