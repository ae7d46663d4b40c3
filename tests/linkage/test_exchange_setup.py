"""Project setup travels through the exchange: every party fetches the registered
project.json and the holders' acceptances and key shares; only a holder sends, and only its
own acceptance of exactly the registered manifest. Refusals are recorded."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

import linkage
from linkage.exchange import ExchangeClient, ExchangeError, ExchangeState, open_exchange
from linkage.exchange.setup import acceptance_json
from linkage.keys.acceptance import (
    Acceptance,
    accept_path,
    require_every_share,
    share_path,
)
from tests.linkage.conftest import PASSPHRASE

URL = "http://testserver"


@pytest.fixture
def audit_log() -> list[tuple[str, str, str, dict]]:
    return []


@pytest.fixture
def exchange(world, tmp_path, audit_log):
    db = f"sqlite:///{tmp_path / 'exchange.db'}"
    ExchangeState(db).register(world.manifest)
    return open_exchange(db, tmp_path / "exchange-files",
                         lambda *entry: audit_log.append(entry), max_file_bytes=1 << 20)


def client(app, world, party: str) -> ExchangeClient:
    secret = linkage.load_party_secret(world.keys, party, PASSPHRASE)
    return ExchangeClient(URL, secret, http=TestClient(app))


def acceptance_of(world, holder: str) -> tuple[Acceptance, bytes]:
    return (Acceptance.load(accept_path(world.project_dir, holder)),
            share_path(world.project_dir, holder).read_bytes())


def put_acceptance(c: ExchangeClient, world, url_holder: str, acceptance: Acceptance,
                   share: bytes):
    body = json.dumps(acceptance_json(acceptance, share)).encode()
    return c.request("PUT", f"/v1/projects/{world.manifest.id}/setup/acceptances/{url_holder}",
                     headers={"Content-Type": "application/json",
                              "Content-Length": str(len(body))}, content=body)


def refused(audit_log) -> list[tuple[str, str, str, dict]]:
    return [e for e in audit_log if e[1] == "exchange.setup.refused"]


def test_every_party_receives_the_manifest_acceptances_and_shares(world, exchange, tmp_path,
                                                                   audit_log):
    for holder in ("ssis", "building"):
        assert client(exchange, world, holder).send_acceptance(world.project_dir,
                                                               world.manifest)
    # Sending again is harmless: the exchange already holds it.
    assert not client(exchange, world, "ssis").send_acceptance(world.project_dir,
                                                               world.manifest)
    agency_dir = tmp_path / "agency" / world.manifest.id
    written = client(exchange, world, "agency").pull_setup(world.manifest.id, agency_dir)
    assert {p.name for p in written} == {"project.json", "ssis.accept.json",
                                         "ssis.share.age", "building.accept.json",
                                         "building.share.age"}
    for name in ("ssis.share.age", "building.share.age"):
        assert (agency_dir / name).read_bytes() == (world.project_dir / name).read_bytes()
    received = linkage.ProjectManifest.load(agency_dir)
    assert received.to_dict() == world.manifest.to_dict()
    require_every_share(received)
    assert client(exchange, world, "agency").pull_setup(world.manifest.id, agency_dir) == []
    accepted = [e for e in audit_log if e[1] == "exchange.setup.accepted"]
    assert [e[0] for e in accepted] == ["ssis", "building"]


def test_a_non_party_cannot_fetch_the_setup(world, exchange, audit_log, tmp_path):
    with pytest.raises(ExchangeError) as err:
        client(exchange, world, "intruder").pull_setup(world.manifest.id, tmp_path / "x")
    assert err.value.status == 401
    assert not (tmp_path / "x").exists()
    assert audit_log[-1][3]["claimed_party"] == "intruder"


def test_the_key_manager_cannot_send_an_acceptance(world, exchange, audit_log):
    acceptance, share = acceptance_of(world, "ssis")
    response = put_acceptance(client(exchange, world, "keymanager"), world, "keymanager",
                              acceptance, share)
    assert response.status_code == 403
    assert "only holders send acceptance files" in response.json()["message"]
    assert refused(audit_log)[-1][0] == "keymanager"


def test_a_holder_cannot_send_another_holders_acceptance(world, exchange, audit_log):
    acceptance, share = acceptance_of(world, "building")
    ssis = client(exchange, world, "ssis")
    response = put_acceptance(ssis, world, "building", acceptance, share)
    assert response.status_code == 403
    assert "sends only its own acceptance" in response.json()["message"]
    # Nor under its own name: the acceptance is signed for building.
    assert put_acceptance(ssis, world, "ssis", acceptance, share).status_code == 422
    assert [e[0] for e in refused(audit_log)] == ["ssis", "ssis"]
    assert ssis.request("GET", f"/v1/projects/{world.manifest.id}/setup"
                        ).json()["acceptances"] == []


def test_an_acceptance_of_other_facts_is_refused(world, exchange, audit_log):
    """ssis signs an acceptance of a manifest other than the registered one."""
    acceptance, share = acceptance_of(world, "ssis")
    ssis = client(exchange, world, "ssis")
    other = dataclasses.replace(acceptance, digest="0" * 64, signature="")
    forged = dataclasses.replace(other, signature=ssis.party.signer.sign(
        other.signed_bytes()).hex())
    response = put_acceptance(ssis, world, "ssis", forged, share)
    assert response.status_code == 422
    assert "accepted other facts than this project.json" in response.json()["message"]
    assert refused(audit_log)[-1][3]["status"] == 422


def test_a_swapped_share_or_a_broken_signature_is_refused(world, exchange):
    acceptance, _ = acceptance_of(world, "ssis")
    _, building_share = acceptance_of(world, "building")
    ssis = client(exchange, world, "ssis")
    response = put_acceptance(ssis, world, "ssis", acceptance, building_share)
    assert response.status_code == 422
    assert "is not the one it signed" in response.json()["message"]
    unsigned = dataclasses.replace(acceptance, accepted_at="2020-01-01T00:00:00+00:00")
    response = put_acceptance(ssis, world, "ssis", unsigned, acceptance_of(world, "ssis")[1])
    assert response.status_code == 422
    assert "not signed by its key" in response.json()["message"]


def test_a_holder_accepts_once_per_key_version(world, exchange, audit_log):
    acceptance, share = acceptance_of(world, "ssis")
    ssis = client(exchange, world, "ssis")
    assert put_acceptance(ssis, world, "ssis", acceptance, share).status_code == 201
    again = dataclasses.replace(acceptance, accepted_at="2030-01-01T00:00:00+00:00")
    again = dataclasses.replace(again, signature=ssis.party.signer.sign(
        again.signed_bytes()).hex())
    response = put_acceptance(ssis, world, "ssis", again, share)
    assert response.status_code == 409
    assert refused(audit_log)[-1][3]["status"] == 409


def test_another_creation_of_the_project_here_is_kept(world, exchange, tmp_path):
    here = tmp_path / "agency" / world.manifest.id
    here.mkdir(parents=True)
    other = dataclasses.replace(world.manifest, nonce="f" * 32).save(here)
    with pytest.raises(ExchangeError, match="another creation"):
        client(exchange, world, "agency").pull_setup(world.manifest.id, here)
    assert linkage.ProjectManifest.load(here).nonce == other.nonce
