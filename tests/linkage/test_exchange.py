"""The exchange holds sealed envelopes between parties: it accepts a file only from a party
of the project, of a kind that party may send, whose signed header and bytes verify; it
hands a file only to its recipient; every refusal is recorded."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from fastapi.testclient import TestClient

import linkage
from linkage.envelope import header_path
from linkage.exchange import ExchangeClient, ExchangeError, ExchangeState, open_exchange
from linkage.exchange.checks import encode_header
from tests.linkage.conftest import PASSPHRASE

URL = "http://testserver"


@pytest.fixture
def audit_log() -> list[tuple[str, str, str, dict]]:
    return []


@pytest.fixture
def exchange(world, tmp_path, audit_log):
    """An exchange (SQLite state) with the world's project registered by its operator."""
    db = f"sqlite:///{tmp_path / 'exchange.db'}"
    ExchangeState(db).register(world.manifest)
    app = open_exchange(db, tmp_path / "exchange-files",
                        lambda *entry: audit_log.append(entry), max_file_bytes=1 << 30)
    return app


def client(app, world, party: str, **kwargs) -> ExchangeClient:
    secret = linkage.load_party_secret(world.keys, party, PASSPHRASE)
    return ExchangeClient(URL, secret, http=TestClient(app), **kwargs)


def put(c: ExchangeClient, world, path, *, digest=None, body=None, headers=None):
    raw = header_path(path).read_bytes()
    body = path.read_bytes() if body is None else body
    digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    fields = {"Envelope-Header": encode_header(raw), "Content-Length": str(len(body)),
              **(headers or {})}
    return c.request("PUT", f"/v1/projects/{world.manifest.id}/files/{digest}",
                     headers=fields, content=body)


def refusals(audit_log, action_prefix="exchange."):
    return [e for e in audit_log if e[1].startswith(action_prefix) and
            ("refused" in e[1])]


# --- attacks -----------------------------------------------------------------------


def test_request_signed_by_a_non_party_is_refused_and_recorded(world, exchange, audit_log):
    world.prepare_all()
    intruder = client(exchange, world, "intruder")  # a real party, of no role in this project
    response = put(intruder, world, world.keys_files()[0])
    assert response.status_code == 401
    assert "'intruder' is not a party of this project" in response.json()["message"]
    assert refusals(audit_log)[-1][3]["claimed_party"] == "intruder"
    assert client(exchange, world, "ssis").status(world.manifest.id)["files"] == []


def test_unsigned_request_is_refused(world, exchange):
    response = TestClient(exchange).get(f"/v1/projects/{world.manifest.id}")
    assert response.status_code == 401
    assert "unsigned request" in response.json()["message"]


def test_envelope_signed_by_a_non_party_under_a_partys_name_is_refused(world, exchange,
                                                                        audit_log, tmp_path):
    """ssis uploads a file whose header says 'ssis' but which the intruder's key signed."""
    intruder = linkage.load_party_secret(world.keys, "intruder", PASSPHRASE)
    posing = dataclasses.replace(intruder, public=dataclasses.replace(intruder.public,
                                                                      id="ssis"))
    forged = tmp_path / "forged.keys.age"
    import pyarrow as pa

    linkage.seal(forged, pa.table({"serial": ["1"]}), kind="keys", project=world.manifest,
                 sender=posing, recipient=world.manifest.party("keymanager"))
    response = put(client(exchange, world, "ssis"), world, forged)
    assert response.status_code == 422
    assert "header signature does not verify" in response.json()["message"]
    assert refusals(audit_log)[-1][:2] == ("ssis", "exchange.upload.refused")


def test_tampered_upload_is_refused_and_never_visible(world, exchange, audit_log):
    world.prepare_all()
    path = world.keys_files()[0]
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 1
    ssis = client(exchange, world, "ssis")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()  # the header's digest
    response = put(ssis, world, path, digest=digest, body=bytes(body))
    assert response.status_code == 422
    assert "does not match its signed header" in response.json()["message"]
    assert str(path.parent) not in response.json()["message"]
    assert ssis.status(world.manifest.id)["files"] == []
    km = client(exchange, world, "keymanager")
    assert km.request("GET", f"/v1/projects/{world.manifest.id}/files/{digest}"
                      ).status_code == 404
    assert refusals(audit_log)[-2][:2] == ("ssis", "exchange.upload.refused")


def test_replayed_request_is_refused_and_recorded(world, exchange, audit_log):
    ssis = client(exchange, world, "ssis")
    url = f"{URL}/v1/projects/{world.manifest.id}"
    from linkage.exchange.signing import sign_request

    headers = sign_request("GET", url, {}, party_id="ssis", key=ssis.party.signer)
    http = TestClient(exchange)
    assert http.get(url, headers=headers).status_code == 200
    again = http.get(url, headers=headers)
    assert again.status_code == 401
    assert again.json()["error"] == "replayed"
    assert refusals(audit_log)[-1][0] == "ssis"


def test_request_signed_for_another_url_is_refused(world, exchange):
    ssis = client(exchange, world, "ssis")
    from linkage.exchange.signing import sign_request

    headers = sign_request("GET", f"{URL}/v1/projects/other", {}, party_id="ssis",
                           key=ssis.party.signer)
    response = TestClient(exchange).get(f"/v1/projects/{world.manifest.id}", headers=headers)
    assert response.status_code == 401


def test_oversized_upload_is_refused_before_its_body_is_stored(world, tmp_path, audit_log):
    db = f"sqlite:///{tmp_path / 'small.db'}"
    ExchangeState(db).register(world.manifest)
    small = open_exchange(db, tmp_path / "small-files", lambda *e: audit_log.append(e),
                          max_file_bytes=100)
    world.prepare_all()
    response = put(client(small, world, "ssis"), world, world.keys_files()[0])
    assert response.status_code == 413
    assert "more than the 100 bytes" in response.json()["message"]
    assert refusals(audit_log)[-1][3]["status"] == 413
    assert not any((tmp_path / "small-files").rglob("*.age"))


def test_download_by_a_non_recipient_is_refused_and_recorded(world, exchange, audit_log):
    world.prepare_all()
    pushed = client(exchange, world, "ssis").push(world.manifest.id, world.keys_files()[0])
    for other in ("building", "agency", "ssis"):  # not even its sender gets it back
        response = client(exchange, world, other).request(
            "GET", f"/v1/projects/{world.manifest.id}/files/{pushed.sha256}")
        assert response.status_code == 403, other
        assert refusals(audit_log)[-1][:2] == (other, "exchange.download.refused")


def test_a_holder_cannot_send_keys_to_the_agency(world, exchange):
    """Keys go to the key manager only: the agency must never hold linkage keys."""
    import pyarrow as pa

    ssis = linkage.load_party_secret(world.keys, "ssis", PASSPHRASE)
    path = world.root / "misrouted.keys.age"
    linkage.seal(path, pa.table({"serial": ["1"]}), kind="keys", project=world.manifest,
                 sender=ssis, recipient=world.manifest.party("agency"))
    response = put(client(exchange, world, "ssis"), world, path)
    assert response.status_code == 403
    assert "keys files go to the key manager" in response.json()["message"]


def test_a_party_cannot_upload_another_partys_envelope(world, exchange):
    world.prepare_all()
    response = put(client(exchange, world, "building"), world, world.keys_files()[0])
    assert response.status_code == 403
    assert "a party uploads only envelopes it sealed itself" in response.json()["message"]


def test_a_file_altered_at_the_exchange_is_refused_by_its_recipient(world, exchange,
                                                                     tmp_path):
    world.prepare_all()
    pushed = client(exchange, world, "ssis").push(world.manifest.id, world.keys_files()[0])
    stored = tmp_path / "exchange-files" / "objects" / world.manifest.id / pushed.sha256
    data = bytearray(stored.read_bytes())
    data[-1] ^= 1
    stored.write_bytes(bytes(data))
    out = tmp_path / "km-inbox"
    with pytest.raises(ExchangeError, match="from the exchange refused"):
        client(exchange, world, "keymanager").pull(world.manifest.id, world.manifest, out)
    assert not (out / "ssis.keys.age").exists()


# --- the honest flow ----------------------------------------------------------------


def test_same_file_pushed_twice_is_created_then_see_other(world, exchange, audit_log):
    world.prepare_all()
    ssis = client(exchange, world, "ssis")
    first = put(ssis, world, world.keys_files()[0])
    assert first.status_code == 201
    second = put(ssis, world, world.keys_files()[0])
    assert second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    accepted = [e for e in audit_log if e[1] == "exchange.upload.accepted"]
    assert len(accepted) == 1 and accepted[0][0] == "ssis"
    assert accepted[0][3]["kind"] == "keys"


def test_files_travel_to_their_recipients_and_link_as_on_one_machine(world, exchange,
                                                                      tmp_path, audit_log):
    world.prepare_all()
    pid = world.manifest.id
    for holder in ("ssis", "building"):
        c = client(exchange, world, holder)
        for path in (world.exchange / f"{holder}.keys.age",
                     world.exchange / f"{holder}.payload.age"):
            assert c.push(pid, path).created
    km_inbox, agency_inbox = tmp_path / "km", tmp_path / "agency"
    km = client(exchange, world, "keymanager")
    pulled = km.pull(pid, world.manifest, km_inbox)
    assert sorted(p.name for p in pulled) == ["building.keys.age", "ssis.keys.age"]
    assert km.pull(pid, world.manifest, km_inbox) == []  # already there
    for p in pulled:
        assert p.read_bytes() == (world.exchange / p.name).read_bytes()
        assert header_path(p).read_bytes() == header_path(world.exchange / p.name).read_bytes()
    report = linkage.link(world.manifest, pulled, tmp_path / "km-out", world.keys, PASSPHRASE)
    assert report.links == 3
    assert km.push(pid, tmp_path / "km-out" / "linkmap.age").created
    agency = client(exchange, world, "agency")
    got = sorted(p.name for p in agency.pull(pid, world.manifest, agency_inbox))
    assert got == ["building.payload.age", "linkmap.age", "ssis.payload.age"]
    downloads = [e for e in audit_log if e[1] == "exchange.download"]
    assert {e[0] for e in downloads} == {"keymanager", "agency"}


def test_an_interrupted_upload_resumes_where_the_exchange_copy_ends(world, exchange):
    world.prepare_all()
    path = world.payload_files()[0]
    size = path.stat().st_size
    ssis = client(exchange, world, "ssis", chunk_size=max(size // 3, 1))
    raw = header_path(path).read_bytes()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    half = size // 2
    first = ssis.request(
        "PUT", f"/v1/projects/{world.manifest.id}/files/{digest}",
        headers={"Envelope-Header": encode_header(raw), "Content-Length": str(half),
                 "Content-Range": f"bytes 0-{half - 1}/{size}"},
        content=path.read_bytes()[:half])
    assert first.status_code == 202 and first.json() == {"offset": half}
    # Skipping ahead of what the exchange holds is refused with the offset to resume at.
    gap = ssis.request(
        "PUT", f"/v1/projects/{world.manifest.id}/files/{digest}",
        headers={"Envelope-Header": encode_header(raw), "Content-Length": "1",
                 "Content-Range": f"bytes {size - 1}-{size - 1}/{size}"},
        content=path.read_bytes()[-1:])
    assert gap.status_code == 409 and gap.json()["offset"] == half
    assert ssis.push(world.manifest.id, path).created
    agency = client(exchange, world, "agency")
    pulled = agency.pull(world.manifest.id, world.manifest, world.root / "agency",
                         kinds=("payload",))
    assert pulled[0].read_bytes() == path.read_bytes()


def test_push_of_an_envelope_without_its_header_is_one_error_line(world, tmp_path,
                                                                  monkeypatch):
    from typer.testing import CliRunner

    from pseudolink.cli import exchange as _exchange  # noqa: F401 - registers the commands
    from pseudolink.cli.app import app

    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    lonely = tmp_path / "ssis.keys.age"
    lonely.write_bytes(b"age")
    result = CliRunner().invoke(app, ["exchange", "push", str(lonely), "--project", "p",
                                      "--exchange", URL, "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "no signed header ssis.keys.age.sig beside it" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_an_abandoned_partial_upload_is_swept_when_the_exchange_starts(world, tmp_path):
    import os
    import time

    world.prepare_all()
    db = f"sqlite:///{tmp_path / 'sweep.db'}"
    ExchangeState(db).register(world.manifest)
    app = open_exchange(db, tmp_path / "sweep-files", lambda *e: None)
    path = world.payload_files()[0]
    size = path.stat().st_size
    ssis = client(app, world, "ssis")
    half = size // 2
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    response = ssis.request(
        "PUT", f"/v1/projects/{world.manifest.id}/files/{digest}",
        headers={"Envelope-Header": encode_header(header_path(path).read_bytes()),
                 "Content-Length": str(half), "Content-Range": f"bytes 0-{half - 1}/{size}"},
        content=path.read_bytes()[:half])
    assert response.status_code == 202
    staged = next((tmp_path / "sweep-files" / "staging").rglob("*.age"))
    open_exchange(db, tmp_path / "sweep-files", lambda *e: None)  # a restart: recent, kept
    assert staged.exists()
    eight_days = time.time() - 8 * 86400
    os.utime(staged, (eight_days, eight_days))
    open_exchange(db, tmp_path / "sweep-files", lambda *e: None)
    assert not staged.exists()


def test_serve_exchange_refuses_a_busy_port_before_announcing_a_url(tmp_path):
    import socket

    from typer.testing import CliRunner

    from pseudolink.cli import serve as _serve  # noqa: F401 - registers the commands
    from pseudolink.cli.app import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "exchange", "--port", str(port),
                                          "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "the exchange cannot listen" in " ".join(result.output.split())
    assert "http://" not in result.output
