"""Linkage as a service, end to end: five processes, five workspaces, one exchange.

The exchange (PostgreSQL, loopback), holders A and B (the CLI), the key manager's worker
and the agency's worker each run in their own process and workspace. The key manager's
worker is killed with SIGKILL in the middle of linking; the job is put back, a restarted
worker completes it, and the agency gets exactly one link map. The combined table equals
the one-machine pipeline's. Attacks on the running server are refused and recorded in the
exchange host's catalog audit log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import linkage
from linkage.envelope import header_path
from linkage.exchange import ExchangeClient
from linkage.exchange.checks import encode_header
from linkage.exchange.signing import sign_request
from tests.conftest import fresh_postgres_database
from tests.linkage.conftest import PARTIES, PASSPHRASE, party_workspace

PEOPLE = int(os.environ.get("PSEUDOLINK_E2E_PEOPLE", 50_000))
PROJECT = "synth-housing"
HOLDERS = ("ssis", "building")
ENV = dict(os.environ, PSEUDOLINK_PASSPHRASE=PASSPHRASE, COLUMNS="200")


def cli(*args: str, workdir: Path, timeout: float = 300) -> str:
    result = subprocess.run([sys.executable, "-m", "pseudolink", *args, "--workdir",
                             str(workdir)], capture_output=True, text=True, env=ENV,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def spawn(*args: str, workdir: Path, log: Path | None = None) -> subprocess.Popen:
    """A long-running command; its output piped (to read) or, with ``log``, to a file."""
    out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - lives with the process
    return subprocess.Popen([sys.executable, "-m", "pseudolink", *args, "--workdir",
                             str(workdir)], stdout=out, stderr=subprocess.STDOUT,
                            text=True, env=ENV, bufsize=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def read_until(process: subprocess.Popen, text: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("process ended before printing " + repr(text) + ":\n" +
                                 "".join(lines))
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(lines))


@pytest.fixture(scope="module")
def party_keys(tmp_path_factory) -> Path:
    """Every party's keys, made once (scrypt takes a while); workspaces copy from here."""
    keys = tmp_path_factory.mktemp("party-keys")
    for party_id, role in PARTIES:
        linkage.create_party(keys, party_id, role, PASSPHRASE)
    return keys


@pytest.fixture
def parties(tmp_path, party_keys):
    """Five workspaces; the project created, accepted by both holders, copied to each."""
    spaces = {p: tmp_path / p for p in (*HOLDERS, "keymanager", "agency", "exchange")}
    for party, space in spaces.items():
        party_workspace(party_keys, space / "keys", *([party] if party != "exchange" else []))
    data = tmp_path / "synth"
    subprocess.run([sys.executable, "-m", "pseudolink", "synth-data", "--people", str(PEOPLE),
                    "--out", str(data), "--seed", "7"], check=True, capture_output=True,
                   env=ENV, timeout=300)
    spec = linkage.ProjectSpec.load(data / "project.toml")
    shared = tmp_path / "shared" / spec.id
    manifest = linkage.create_project(spec, spaces["agency"] / "keys", shared)
    for holder in HOLDERS:
        linkage.accept_project(manifest, linkage.load_party_secret(
            spaces[holder] / "keys", holder, PASSPHRASE), spaces[holder] / "keys")
    for space in spaces.values():
        shutil.copytree(shared, space / "data" / spec.id)
    return spaces, data, shared


def test_five_processes_link_through_the_exchange_and_survive_a_killed_worker(
        parties, tmp_path, party_keys):
    spaces, data, shared = parties
    outs = {h: spaces[h] / "out" for h in HOLDERS}
    for holder in HOLDERS:
        cli("holder", "prepare", "--project", PROJECT, "--holder", holder, "--input",
            str(data / f"{holder}.parquet"), "--out", str(outs[holder]),
            workdir=spaces[holder])
    largest = max(p.stat().st_size for h in HOLDERS for p in outs[h].glob("*.age"))

    with fresh_postgres_database("pseudolink_exchange") as database_url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cli("exchange", "register", "--project", PROJECT, "--database-url", database_url,
            workdir=spaces["exchange"])
        server = spawn("serve", "exchange", "--port", str(port), "--database-url",
                       database_url, "--stalled-after", "5",
                       "--max-file-size", str(largest + 1), workdir=spaces["exchange"],
                       log=tmp_path / "exchange.log")
        workers: list[subprocess.Popen] = []
        try:
            wait_for(lambda: _healthy(url), 60, "the exchange to answer")
            # Before the honest uploads: after them, a second payload from ssis would be
            # refused as already published before its bytes are even read.
            _attacks(url, party_keys, outs, tmp_path, largest)
            agency = spawn("worker", "--role", "combiner", "--exchange", url, "--poll", "0.5",
                           "--heartbeat", "1", workdir=spaces["agency"],
                           log=tmp_path / "agency.log")
            temp_before = set(Path(tempfile.gettempdir()).glob("pseudolink-*"))
            km = spawn("worker", "--role", "key_manager", "--exchange", url, "--poll", "0.5",
                       "--heartbeat", "1", workdir=spaces["keymanager"])
            workers += [agency, km]
            for holder in HOLDERS:
                printed = cli("exchange", "push", str(outs[holder] / f"{holder}.keys.age"),
                              str(outs[holder] / f"{holder}.payload.age"), "--project",
                              PROJECT, "--exchange", url, workdir=spaces[holder])
                assert "sent" in printed

            # SIGKILL in the middle of linking: nothing is published.
            read_until(km, "linking", 120)
            km.send_signal(signal.SIGKILL)
            km.wait(10)
            # The killed worker's scratch is in its own workspace and reaped there; nothing
            # of its job is left in the shared temp dir.
            scratch = spaces["keymanager"] / "scratch"
            wait_for(lambda: not scratch.exists() or not any(scratch.iterdir()), 15,
                     "the killed worker's scratch to be removed")
            assert set(Path(tempfile.gettempdir()).glob("pseudolink-*")) <= temp_before
            watcher = _client(url, party_keys, "ssis")
            status = watcher.status(PROJECT)
            assert not any(f["kind"] == "linkmap" for f in status["files"])
            assert not (spaces["agency"] / "data" / PROJECT / "combined.parquet").exists()

            km2 = spawn("worker", "--role", "key_manager", "--exchange", url, "--poll", "0.5",
                        "--heartbeat", "1", workdir=spaces["keymanager"],
                        log=tmp_path / "keymanager.log")
            workers.append(km2)
            combined_path = spaces["agency"] / "data" / PROJECT / "combined.parquet"

            def both_done():
                jobs = {j["task"]: j for j in watcher.status(PROJECT)["jobs"]}
                return jobs if all(jobs.get(t, {}).get("status") == "succeeded"
                                   for t in ("link", "combine")) else None

            # Generous: CI machines are shared, and a missed heartbeat costs a retry.
            jobs = wait_for(both_done, 480, "link and combine jobs to succeed")
            # At least the killed attempt and the one that finished (a loaded machine may
            # miss a heartbeat of the second too; the output is still published once).
            assert jobs["link"]["attempts"] >= 2
            assert "worker stopped answering" in jobs["link"]["errors"][0]["error"]
            timeline = cli("exchange", "status", "--project", PROJECT, "--exchange", url,
                           workdir=spaces["ssis"])
            assert "link map to the agency" in timeline and "waiting" not in timeline
            assert "worker stopped answering" in timeline  # the jobs table's last error
            files = watcher.status(PROJECT)["files"]
            assert [f["kind"] for f in files].count("linkmap") == 1
            assert len(list((spaces["agency"] / "data" / PROJECT / "inbox"
                             ).glob("linkmap.age"))) == 1

            # The same table as the one-machine pipeline on the same prepared files.
            direct = tmp_path / "direct"
            linkage.link(shared, [outs[h] / f"{h}.keys.age" for h in HOLDERS], direct,
                         party_keys, PASSPHRASE)
            linkage.combine(shared, direct / "linkmap.age",
                            [outs[h] / f"{h}.payload.age" for h in HOLDERS],
                            direct / "combined.parquet", party_keys, PASSPHRASE)
            assert _rows(combined_path) == _rows(direct / "combined.parquet")

        except BaseException:
            for name in ("exchange", "keymanager", "agency"):
                log = tmp_path / f"{name}.log"
                if log.exists():
                    print(f"--- {name} ---\n" + log.read_text()[-6000:])
            raise
        finally:
            for process in [*workers, server]:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(15)
                    except subprocess.TimeoutExpired:
                        process.kill()

    import catalog

    with catalog.Catalog.connect(f"sqlite:///{spaces['exchange'] / 'catalog.db'}") as cat:
        entries = cat.audit_entries()
    by_action: dict[str, list[dict]] = {}
    for entry in entries:
        by_action.setdefault(entry["action"], []).append(entry)
    accepted = {(e["actor"], e["details"]["kind"]) for e in
                by_action["exchange.upload.accepted"]}
    assert accepted == {("ssis", "keys"), ("ssis", "payload"), ("building", "keys"),
                        ("building", "payload"), ("keymanager", "linkmap")}
    assert {e["actor"] for e in by_action["exchange.download"]} == {"keymanager", "agency"}
    refused = by_action["exchange.refused"] + by_action["exchange.upload.refused"]
    statuses = sorted(e["details"]["status"] for e in refused)
    assert statuses.count(401) >= 2 and 413 in statuses and 422 in statuses
    assert any(e["details"].get("claimed_party") == "intruder" for e in refused)
    assert {"exchange.job.deferred", "exchange.job.started", "exchange.job.succeeded",
            "exchange.job.requeued"} <= set(by_action)
    # The officers' console shows the project's stages at the exchange as a timeline.
    from catalog.console import views

    timeline = views.project_timeline(entries, PROJECT)
    events = list(timeline["event"])
    assert events.index("upload.accepted") < events.index("job.deferred") < \
        events.index("job.succeeded")
    # Each worker recorded its stage and files in its own party's catalog (for close).
    for party, stage in (("keymanager", "stage.link"), ("agency", "stage.combine")):
        with catalog.Catalog.connect(f"sqlite:///{spaces[party] / 'catalog.db'}") as cat:
            assert stage in {e["action"] for e in cat.audit_entries()}, party


def _attacks(url, party_keys, outs, tmp_path, largest) -> None:
    """Over the running server: a non-party, a tampered upload, a replay, an oversize."""
    keys_file = outs["ssis"] / "ssis.keys.age"
    raw = header_path(keys_file).read_bytes()
    digest = hashlib.sha256(keys_file.read_bytes()).hexdigest()
    put = f"/v1/projects/{PROJECT}/files/{digest}"

    intruder = _client(url, party_keys, "intruder")
    body = keys_file.read_bytes()
    fields = {"Envelope-Header": encode_header(raw), "Content-Length": str(len(body))}
    assert intruder.request("PUT", put, headers=fields, content=body).status_code == 401

    # Tampered: a new digest (no 303 for the genuine file), bytes that no header signed.
    tampered = bytearray(body)
    tampered[100] ^= 1
    forged = tmp_path / "tampered.keys.age"
    forged.write_bytes(bytes(tampered))
    ssis = _client(url, party_keys, "ssis")
    response = ssis.request("PUT", f"/v1/projects/{PROJECT}/files/"
                            f"{hashlib.sha256(tampered).hexdigest()}",
                            headers=fields, content=bytes(tampered))
    assert response.status_code == 403  # the URL's digest is not the signed one
    response = ssis.request("PUT", f"/v1/projects/{PROJECT}/files/{'0' * 64}",
                            headers=fields, content=bytes(tampered))
    assert response.status_code == 403
    # Right digest in the URL, altered bytes in the body: refused after streaming.
    refreshed = _reseal_is_refused(ssis, tmp_path, outs)
    assert refreshed.status_code == 422, refreshed.text

    signed = sign_request("GET", f"{url}/v1/projects/{PROJECT}", {}, party_id="ssis",
                          key=ssis.party.signer)
    assert httpx.get(f"{url}/v1/projects/{PROJECT}", headers=signed).status_code == 200
    replay = httpx.get(f"{url}/v1/projects/{PROJECT}", headers=signed)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed"

    big = tmp_path / "big.payload.age"
    me = ssis.party
    manifest = linkage.ProjectManifest.load(outs["ssis"].parent / "data" / PROJECT)
    noise = os.urandom(largest + 1024)
    linkage.seal(big, pa.table({"x": [noise]}), kind="payload", project=manifest, sender=me,
                 recipient=manifest.party("agency"))
    response = ssis.request("PUT", f"/v1/projects/{PROJECT}/files/"
                            f"{hashlib.sha256(big.read_bytes()).hexdigest()}",
                            headers={"Envelope-Header":
                                     encode_header(header_path(big).read_bytes()),
                                     "Content-Length": str(big.stat().st_size)},
                            content=big.read_bytes())
    assert response.status_code == 413


def _reseal_is_refused(ssis: ExchangeClient, tmp_path, outs) -> httpx.Response:
    """A fresh, never-published envelope whose body is altered in transit."""
    manifest = linkage.ProjectManifest.load(outs["ssis"].parent / "data" / PROJECT)
    fresh = tmp_path / "fresh.payload.age"
    linkage.seal(fresh, pa.table({"x": [1, 2, 3]}), kind="payload", project=manifest,
                 sender=ssis.party, recipient=manifest.party("agency"))
    body = bytearray(fresh.read_bytes())
    body[-5] ^= 1
    return ssis.request("PUT", f"/v1/projects/{PROJECT}/files/"
                        f"{hashlib.sha256(fresh.read_bytes()).hexdigest()}",
                        headers={"Envelope-Header":
                                 encode_header(header_path(fresh).read_bytes()),
                                 "Content-Length": str(len(body))}, content=bytes(body))


def _client(url: str, party_keys: Path, party: str) -> ExchangeClient:
    return ExchangeClient(url, linkage.load_party_secret(party_keys, party, PASSPHRASE))


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _rows(path: Path) -> list[tuple]:
    table = pq.read_table(path)
    table = table.drop(["link_id"])
    return sorted((tuple(row.values()) for row in table.to_pylist()), key=repr)
