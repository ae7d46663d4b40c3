"""Clerical review through the exchange: the key manager sends each holder its own review
list, each holder answers the key manager with its decisions, and no one else can send or
receive either; refusals are recorded."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import anonymize
import linkage
from linkage.exchange import ExchangeClient, ExchangeError, ExchangeState, open_exchange
from linkage.fuzzy import review
from tests.linkage.conftest import PASSPHRASE, fuzzy_project

URL = "http://testserver"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, party_keys):
    """A fuzzy project linked once with a review band: review lists for both holders."""
    root = tmp_path_factory.mktemp("exchange-review")
    source = root / "source"
    linkage.generate_synthetic_data(source, 300, areas=anonymize.load_admin_areas(), seed=5,
                                    typo_rate=0.2)
    manifest, keys = fuzzy_project(source, party_keys, root)
    out = root / "prepared"
    for holder in ("ssis", "building"):
        linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys, PASSPHRASE,
                        max_invalid_share=0.2)
    keys_files = [out / "ssis.keys.age", out / "building.keys.age"]
    linkage.link(manifest, keys_files, root / "km", keys, PASSPHRASE, review_band=(0.0, 1.0))
    return root, keys, manifest, keys_files


@pytest.fixture
def exchange(reviewed, tmp_path):
    _, _, manifest, _ = reviewed
    audit: list[tuple] = []
    db = f"sqlite:///{tmp_path / 'exchange.db'}"
    ExchangeState(db).register(manifest)
    return open_exchange(db, tmp_path / "files", lambda *e: audit.append(e)), audit


def client(app, keys, party: str) -> ExchangeClient:
    return ExchangeClient(URL, linkage.load_party_secret(keys, party, PASSPHRASE),
                          http=TestClient(app))


def refused(audit) -> list[tuple]:
    return [e for e in audit if e[1].endswith(".refused")]


def test_each_holder_receives_its_own_review_list_and_not_the_others(reviewed, exchange,
                                                                      tmp_path):
    root, keys, manifest, _ = reviewed
    app, audit = exchange
    km = client(app, keys, "keymanager")
    pushed = {h: km.push(manifest.id, root / "km" / f"{h}.review.age")
              for h in ("ssis", "building")}
    assert {h: p.recipient for h, p in pushed.items()} == {"ssis": "ssis",
                                                          "building": "building"}
    for holder in ("ssis", "building"):
        got = client(app, keys, holder).pull(manifest.id, manifest, tmp_path / holder,
                                             kinds=("review",))
        assert [p.name for p in got] == [f"{holder}.review.age"]
        assert got[0].read_bytes() == (root / "km" / f"{holder}.review.age").read_bytes()
    ssis = client(app, keys, "ssis")
    response = ssis.request("GET", f"/v1/projects/{manifest.id}/files/"
                                   f"{pushed['building'].sha256}")
    assert response.status_code == 403
    assert "addressed to 'building', not to 'ssis'" in response.json()["message"]
    assert refused(audit)[-1][:2] == ("ssis", "exchange.download.refused")
    agency = client(app, keys, "agency")
    assert agency.pull(manifest.id, manifest, tmp_path / "agency", kinds=("review",)) == []


def test_only_the_key_manager_sends_review_lists_and_only_to_holders(reviewed, exchange,
                                                                     tmp_path):
    root, keys, manifest, _ = reviewed
    app, audit = exchange
    table = pa.table({"review_id": ["r1"], "serial": ["1"], "probability": [0.5]})
    ssis_secret = linkage.load_party_secret(keys, "ssis", PASSPHRASE)
    forged = tmp_path / "building.review.age"
    linkage.seal(forged, table, kind="review", project=manifest, sender=ssis_secret,
                 recipient=manifest.party("building"))
    with pytest.raises(ExchangeError) as err:
        client(app, keys, "ssis").push(manifest.id, forged)
    assert err.value.status == 403
    assert "only the key manager sends review files" in str(err.value)
    km_secret = linkage.load_party_secret(keys, "keymanager", PASSPHRASE)
    to_agency = tmp_path / "agency.review.age"
    linkage.seal(to_agency, table, kind="review", project=manifest, sender=km_secret,
                 recipient=manifest.party("agency"))
    with pytest.raises(ExchangeError) as err:
        client(app, keys, "keymanager").push(manifest.id, to_agency)
    assert err.value.status == 403
    assert "review files go to the holder" in str(err.value)
    with pytest.raises(ExchangeError) as err:
        client(app, keys, "intruder").push(manifest.id, root / "km" / "ssis.review.age")
    assert err.value.status == 401
    assert [e[0] for e in refused(audit)] == ["ssis", "keymanager", "anonymous"]
    assert refused(audit)[-1][3]["claimed_party"] == "intruder"


def test_decisions_travel_to_the_key_manager_alone_and_the_next_link_applies_them(
        reviewed, exchange, tmp_path):
    root, keys, manifest, keys_files = reviewed
    app, _ = exchange
    client(app, keys, "keymanager").push(manifest.id, root / "km" / "ssis.review.age")
    ssis = client(app, keys, "ssis")
    [listing] = ssis.pull(manifest.id, manifest, tmp_path / "ssis", kinds=("review",))
    sheet = review.review_sheet(manifest, "ssis", listing, keys, PASSPHRASE)
    answers = tmp_path / "answers.parquet"
    pq.write_table(pa.table({"review_id": sheet.column("review_id"),
                             "decision": ["non-match"] * sheet.num_rows}), answers)
    sealed = review.seal_decisions(manifest, "ssis", listing, answers, tmp_path / "back",
                                   keys, PASSPHRASE)
    pushed = ssis.push(manifest.id, sealed)
    assert pushed.kind == "decisions" and pushed.recipient == "keymanager"
    agency = client(app, keys, "agency")
    assert agency.request("GET", f"/v1/projects/{manifest.id}/files/{pushed.sha256}"
                          ).status_code == 403
    [received] = client(app, keys, "keymanager").pull(manifest.id, manifest,
                                                      tmp_path / "km", kinds=("decisions",))
    assert received.name == "ssis.decisions.age"
    second = linkage.link(manifest, keys_files, tmp_path / "km-out", keys, PASSPHRASE,
                          decisions=[received])
    assert second.fuzzy["review_decisions"]["rejected"] > 0
