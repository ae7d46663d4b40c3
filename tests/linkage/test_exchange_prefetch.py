"""A worker fetches its inputs as they land, before its job exists, so that when the last
one lands only that one remains to fetch; a claim waits at the exchange and returns as soon
as a job or a file for the party arrives. Prefetching weakens no check: a file altered at
the exchange is refused before it takes its name, one altered in the worker's inbox after
it was fetched is refused by the stage that opens it, and a retry fetches it again."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

import linkage
from linkage.exchange import ExchangeClient, ExchangeError, ExchangeState, open_exchange
from linkage.exchange.worker import prefetch, run_job
from tests.conftest import fresh_postgres_database
from tests.linkage.conftest import PASSPHRASE

URL = "http://testserver"


@pytest.fixture
def audit_log() -> list[tuple[str, str, str, dict]]:
    return []


@pytest.fixture
def exchange(world, tmp_path, audit_log):
    with fresh_postgres_database("pseudolink_exchange") as database_url:
        ExchangeState(database_url).register(world.manifest)
        app = open_exchange(database_url, tmp_path / "files",
                            lambda *entry: audit_log.append(entry))
        with TestClient(app) as http:  # runs the lifespan: the queue opens
            yield http


def client(http, world, party: str) -> ExchangeClient:
    return ExchangeClient(URL, linkage.load_party_secret(world.keys, party, PASSPHRASE),
                          http=http)


def push(http, world, holder: str, kind: str) -> None:
    client(http, world, holder).push(world.manifest.id, world.exchange / f"{holder}.{kind}.age")


def downloads(audit_log) -> list[tuple[str, str, str]]:
    """(recipient, kind, sender) of every download, in order."""
    return [(e[0], e[3]["kind"], e[3]["sender"]) for e in audit_log
            if e[1] == "exchange.download"]


def project_dir_of(world):
    return lambda project: world.project_dir


def test_key_manager_prefetches_a_keys_file_before_the_link_job_exists(world, exchange,
                                                                       audit_log):
    world.prepare_all()
    push(exchange, world, "ssis", "keys")
    km = client(exchange, world, "keymanager")
    worker = km.register_worker("key_manager")
    assert km.claim(worker) is None  # building's keys file is not in: no job yet
    inbox = world.project_dir / "inbox"
    lines: list[str] = []
    assert prefetch(km, "key_manager", project_dir_of(world), lines.append) == \
        [inbox / "ssis.keys.age"]
    assert (inbox / "ssis.keys.age").read_bytes() == \
        (world.exchange / "ssis.keys.age").read_bytes()
    assert downloads(audit_log) == [("keymanager", "keys", "ssis")]
    # Nothing new: a second prefetch downloads nothing.
    assert prefetch(km, "key_manager", project_dir_of(world), lines.append) == []

    push(exchange, world, "building", "keys")
    job = km.claim(worker)
    _, details = run_job(km, job, world.project_dir, world.keys, PASSPHRASE,
                         lines.append)
    # The job fetched only the file that landed last.
    assert downloads(audit_log) == [("keymanager", "keys", "ssis"),
                                    ("keymanager", "keys", "building")]
    direct = linkage.link(world.manifest, world.keys_files(), world.root / "direct",
                          world.keys, PASSPHRASE)
    assert details["links"] == direct.links
    assert km.finish(job["id"], worker) == "succeeded"


def test_agency_prefetches_payloads_so_only_the_link_map_remains(world, exchange, audit_log):
    world.prepare_all()
    for holder in ("ssis", "building"):
        push(exchange, world, holder, "payload")
    agency = client(exchange, world, "agency")
    assert {p.name for p in prefetch(agency, "combiner", project_dir_of(world), print)} == \
        {"ssis.payload.age", "building.payload.age"}
    for holder in ("ssis", "building"):
        push(exchange, world, holder, "keys")
    km = client(exchange, world, "keymanager")
    km_worker = km.register_worker("key_manager")
    km_job = km.claim(km_worker)
    km_dir = world.root / "km"
    km_dir.mkdir()
    (km_dir / "project.json").write_bytes((world.project_dir / "project.json").read_bytes())
    run_job(km, km_job, km_dir, world.keys, PASSPHRASE, print)
    km.finish(km_job["id"], km_worker)

    worker = agency.register_worker("combiner")
    job = agency.claim(worker)
    outputs, details = run_job(agency, job, world.project_dir, world.keys, PASSPHRASE, print)
    fetched = [d for d in downloads(audit_log) if d[0] == "agency"]
    # The payloads ahead of the job (in either order), then only the link map.
    assert sorted(fetched[:2]) == [("agency", "payload", "building"),
                                   ("agency", "payload", "ssis")]
    assert fetched[2:] == [("agency", "linkmap", "keymanager")]
    assert details["rows"] > 0 and outputs["combined"].exists()


def test_a_file_altered_at_the_exchange_is_refused_by_prefetch_and_never_used(
        world, exchange, tmp_path):
    world.prepare_all()
    push(exchange, world, "ssis", "keys")
    km = client(exchange, world, "keymanager")
    stored = next((tmp_path / "files" / "objects" / world.manifest.id).iterdir())
    data = bytearray(stored.read_bytes())
    data[-1] ^= 1
    stored.write_bytes(bytes(data))
    lines: list[str] = []
    assert prefetch(km, "key_manager", project_dir_of(world), lines.append) == []
    assert any("refused" in line for line in lines)
    inbox = world.project_dir / "inbox"
    assert not (inbox / "ssis.keys.age").exists()
    assert not [p for p in inbox.glob("*") if "ssis" in p.name]  # no temporary left either

    push(exchange, world, "building", "keys")
    worker = km.register_worker("key_manager")
    job = km.claim(worker)
    with pytest.raises(ExchangeError, match="from the exchange refused"):
        run_job(km, job, world.project_dir, world.keys, PASSPHRASE, lines.append)
    assert not any(f["kind"] == "linkmap" for f in km.status(world.manifest.id)["files"])


def test_a_prefetched_file_altered_in_the_inbox_is_refused_and_fetched_again(world,
                                                                             exchange):
    world.prepare_all()
    push(exchange, world, "ssis", "keys")
    km = client(exchange, world, "keymanager")
    prefetch(km, "key_manager", project_dir_of(world), print)
    fetched = world.project_dir / "inbox" / "ssis.keys.age"
    genuine = fetched.read_bytes()
    altered = bytearray(genuine)
    altered[len(altered) // 2] ^= 1
    fetched.write_bytes(bytes(altered))

    push(exchange, world, "building", "keys")
    worker = km.register_worker("key_manager")
    job = km.claim(worker)
    with pytest.raises(linkage.LinkageError, match="does not match its signed header"):
        run_job(km, job, world.project_dir, world.keys, PASSPHRASE, print)
    assert not any(f["kind"] == "linkmap" for f in km.status(world.manifest.id)["files"])
    assert km.finish(job["id"], worker, "LinkageError: altered") == "todo"

    # The retry checks what it holds, fetches the altered file again, and links.
    again = km.claim(worker)
    assert again["attempt"] == 2
    _, details = run_job(km, again, world.project_dir, world.keys, PASSPHRASE, print)
    assert fetched.read_bytes() == genuine
    assert details["links"] > 0
    assert [f["kind"] for f in km.status(world.manifest.id)["files"]].count("linkmap") == 1


def test_a_waiting_claim_returns_when_a_file_or_a_job_arrives(world, exchange):
    world.prepare_all()
    km = client(exchange, world, "keymanager")
    worker = km.register_worker("key_manager")
    job, since = km.wait_for_work(worker, wait=0)
    assert job is None

    answers: list[tuple[float, dict | None, int | None]] = []

    def wait() -> None:
        started = time.monotonic()
        job, seen = km.wait_for_work(worker, wait=60, since=since)
        answers.append((time.monotonic() - started, job, seen))

    waiting = threading.Thread(target=wait)
    waiting.start()
    time.sleep(0.5)
    assert not answers  # nothing for the key manager yet: still waiting
    push(exchange, world, "ssis", "payload")  # for the agency: does not wake it
    time.sleep(0.5)
    assert not answers
    push(exchange, world, "ssis", "keys")
    waiting.join(30)
    took, job, since = answers.pop()
    assert job is None and took < 30  # a file to prefetch, no job yet

    waiting = threading.Thread(target=wait)
    waiting.start()
    time.sleep(0.5)
    push(exchange, world, "building", "keys")
    waiting.join(30)
    took, job, _ = answers.pop()
    assert job is not None and job["task"] == "link" and took < 30
