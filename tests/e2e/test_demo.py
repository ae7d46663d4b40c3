"""The main job, end to end: ``pseudolink demo`` on a small population.

These tests hold the demo to the foundation's promises: linkage recovers the true pairs,
nothing that leaves a holder carries an identifier or a linkage key, the API answers,
and a second run on the same workspace works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import linkage

PEOPLE = 3_000
PROJECT = "demo-housing"
PASSPHRASE = "e2e test passphrase"


def _run_demo(workdir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PSEUDOLINK_PASSPHRASE=PASSPHRASE, COLUMNS="200")
    return subprocess.run(
        # The project stays open, so that these tests can inspect what each stage wrote
        # (tests/e2e/test_demo_governed.py runs the demo that closes it).
        [sys.executable, "-m", "pseudolink", "demo", "--workdir", str(workdir),
         "--people", str(PEOPLE), "--synthetic-rows", "300", "--keep-project"],
        capture_output=True, text=True, env=env, timeout=900,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    workdir = tmp_path_factory.mktemp("demo") / "ws"
    result = _run_demo(workdir)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return workdir, result


def _source(workdir: Path) -> Path:
    return workdir / "data" / "demo-source"


def _exchange(workdir: Path) -> Path:
    return workdir / "data" / PROJECT / "exchange"


def _linkmap(workdir: Path) -> pd.DataFrame:
    return linkage.read_envelope(
        _exchange(workdir) / "linkmap.age", workdir / "keys", "agency", PASSPHRASE
    ).to_pandas()


def test_demo_links_true_pairs_without_false_ones(demo_run):
    workdir, _ = demo_run
    linkmap = _linkmap(workdir)
    serial_to_record = {}
    for holder in ("ssis", "building"):
        crosswalk = pd.read_parquet(linkage.crosswalk_path(workdir / "keys", PROJECT, holder))
        serial_to_record[holder] = dict(zip(crosswalk["serial"], crosswalk["record_id"],
                                            strict=True))
    pairs = linkmap.pivot(index="link_id", columns="holder", values="serial").dropna()
    found = {
        (serial_to_record["ssis"][row.ssis], serial_to_record["building"][row.building])
        for row in pairs.itertuples()
    }
    truth = pd.read_parquet(_source(workdir) / "truth.parquet")
    true_pairs = set(zip(truth["ssis_record_id"], truth["building_record_id"], strict=True))
    assert len(true_pairs) > 0
    recall = len(found & true_pairs) / len(true_pairs)
    assert recall >= 0.99, f"recall {recall:.4f}"
    assert found <= true_pairs, f"{len(found - true_pairs)} false pairs"


def _identifier_values(workdir: Path) -> set[str]:
    """Every name, RRN and phone of the inputs, in raw and digits-only form."""
    values: set[str] = set()
    columns = {"ssis": ["name", "rrn", "phone"], "building": ["owner_name", "owner_rrn",
                                                              "owner_phone"]}
    for holder, cols in columns.items():
        frame = pd.read_parquet(_source(workdir) / f"{holder}.parquet", columns=cols)
        for col in cols:
            for value in frame[col].dropna().astype(str):
                values.add(value)
                digits = "".join(ch for ch in value if ch.isdigit())
                if len(digits) >= 9:
                    values.add(digits)
    return {v for v in values if len(v) >= 2}


def _linkage_keys(workdir: Path) -> set[str]:
    keys: set[str] = set()
    for holder in ("ssis", "building"):
        table = linkage.read_envelope(
            _exchange(workdir) / f"{holder}.keys.age", workdir / "keys", "keymanager", PASSPHRASE
        )
        for name in table.column_names:
            if name == "serial":
                continue
            for key in table.column(name).to_pylist():
                if key is not None:
                    keys.add(key.hex() if isinstance(key, bytes) else str(key))
    return keys


def _cells(path: Path) -> set[str]:
    table = pq.read_table(path)
    cells: set[str] = set(table.column_names)
    for column in table.columns:
        cells.update(str(v) for v in column.to_pylist() if v is not None)
    return cells


def test_outputs_hold_no_identifier_or_linkage_key(demo_run):
    workdir, result = demo_run
    identifiers = _identifier_values(workdir)
    keys = _linkage_keys(workdir)
    assert identifiers and keys
    # Raw inputs, and the crosswalks that by design stay with each holder (in its private
    # folder, never in the exchange), are not outputs.
    assert not list(_exchange(workdir).glob("*crosswalk*"))
    skip = {_source(workdir), workdir / "private"}
    scanned = 0
    for path in sorted(workdir.rglob("*")):
        if not path.is_file() or any(s == path or s in path.parents for s in skip):
            continue
        scanned += 1
        if path.suffix == ".parquet":
            found = _cells(path) & (identifiers | keys)
            assert not found, f"{path} holds identifiers or keys"
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
            leaked = [v for v in identifiers | keys if v in text]
            assert not leaked, f"{path} holds {len(leaked)} identifier or key values"
    assert scanned >= 8
    printed = result.stdout + result.stderr
    assert not [v for v in identifiers | keys if len(v) >= 6 and v in printed]


def test_combined_data_has_only_link_id_and_holder_attributes(demo_run):
    workdir, _ = demo_run
    combined = pq.read_schema(workdir / "data" / PROJECT / "combined.parquet")
    assert combined.names[0] == "link_id"
    assert all(n.startswith(("ssis__", "building__")) for n in combined.names[1:])
    forbidden = {"name", "rrn", "phone", "owner_name", "owner_rrn", "owner_phone", "address"}
    assert not {n.split("__", 1)[1] for n in combined.names[1:]} & forbidden


def test_demo_serves_released_aggregate_and_records_it(demo_run):
    workdir, result = demo_run
    assert "rows served" in result.stdout
    risk = json.loads((workdir / "data" / PROJECT / "risk-report.json").read_text())
    for key in ("k", "l_distinct", "prosecutor_risk_max"):
        assert key in risk
    released = pd.read_parquet(workdir / "releases" / "dp-recipients-by-sido-benefit.parquet")
    assert len(released) == 17 * 5  # every 시도 x benefit type cell, present or not
    assert (released["count"] >= 0).all()


def _public_spend(workdir: Path) -> list[float]:
    import catalog

    with catalog.Catalog.connect(f"sqlite:///{workdir / 'catalog.db'}") as cat:
        return [entry["epsilon"] for entry in
                cat.budget_ledger(f"{PROJECT}-combined", "public")]


def test_demo_dp_release_is_charged_to_a_real_budget_before_it_is_published(demo_run):
    workdir, result = demo_run
    assert _public_spend(workdir) == [1.0]
    assert "charged to the public budget" in result.stdout


def test_demo_runs_again_on_the_same_workspace(demo_run):
    workdir, _ = demo_run
    again = _run_demo(workdir)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    # The same data released again is kept, not charged twice.
    assert "not charged again" in again.stdout
    assert _public_spend(workdir) == [1.0]
    audit = subprocess.run(
        [sys.executable, "-m", "pseudolink", "audit", "verify", "--workdir", str(workdir)],
        capture_output=True, text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_demo_holders_accept_before_preparing_and_receive_nothing_back(demo_run):
    workdir, result = demo_run
    printed = " ".join(result.stdout.split())
    assert printed.index("ssis accepts:") < printed.index("4. holders prepare")
    project_dir = workdir / "data" / PROJECT
    assert sorted(p.name for p in project_dir.glob("*.share.age")) == [
        "building.share.age", "ssis.share.age"]
    assert not list(workdir.rglob("*.projectkey.age")) and not list(workdir.rglob("*matched*"))


def test_demo_project_close_destroys_every_recorded_file(demo_run, tmp_path):
    # On a copy, so that the tests above keep their files: the catalog keeps paths inside
    # the workspace relative to it, so a copied (or moved) workspace closes just the same.
    import shutil

    import catalog

    workdir, _ = demo_run
    copy = tmp_path / "moved"
    shutil.copytree(workdir, copy)
    url = f"sqlite:///{(copy / 'catalog.db').resolve()}"
    password = "a long e2e test password"
    with catalog.Catalog.connect(url) as cat:
        recorded = cat.artefacts(PROJECT)
        assert {a.kind for a in recorded} >= {"keys", "payload", "crosswalk", "linkmap",
                                             "combined"}
        assert not any(Path(a.path).is_absolute() for a in recorded)
        cat.set_password("agency", password, actor="demo-admin")
        token = cat.login("agency", password)
    env = dict(os.environ, PSEUDOLINK_SESSION=token, COLUMNS="200")
    closed = subprocess.run(
        [sys.executable, "-m", "pseudolink", "project", "close", "--project", PROJECT,
         "--workdir", str(copy)], capture_output=True, text=True, env=env, timeout=300)
    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert not any((copy / a.path).exists() for a in recorded)
    assert all((workdir / a.path).exists() for a in recorded)  # the original is untouched
    with catalog.Catalog.connect(url) as cat:
        assert cat.artefacts(PROJECT) == []
        last = cat.audit_entries()[-1]
    assert (last["action"], last["actor"]) == ("project.destruction_certificate", "agency")
    assert {f["state"] for f in last["details"]["files"]} == {"destroyed"}
