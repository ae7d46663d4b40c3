"""Fuzzy prepare runs batch by batch, as exact prepare does: a holder's memory stays flat
whatever the file's size, and the keys it writes are those of the file encoded whole."""

from __future__ import annotations

import importlib

import pytest

import anonymize
import linkage
from linkage.fuzzy import params_for
from tests.linkage.conftest import PASSPHRASE, fuzzy_project, prepared_by_row

HOLDERS = ("ssis", "building")
# The modules, not the functions of the same names that their packages export.
prepare_module = importlib.import_module("linkage.prepare")
fuzzy_prepare = importlib.import_module("linkage.fuzzy.prepare")


@pytest.fixture(scope="module")
def generated(tmp_path_factory, party_keys):
    root = tmp_path_factory.mktemp("fuzzy-prepare")
    source = root / "source"
    linkage.generate_synthetic_data(source, 400, areas=anonymize.load_admin_areas(), seed=13,
                                    typo_rate=0.1)
    manifest, keys = fuzzy_project(source, party_keys, root)
    return root, source, manifest, keys


@pytest.fixture
def encoded_rows(monkeypatch) -> list[int]:
    """The size of each batch the fuzzy encoder is given, in order."""
    sizes: list[int] = []
    encode = fuzzy_prepare.encode_identifiers

    def counting(values, project_key, params):
        sizes.append(values.num_rows)
        return encode(values, project_key, params)

    monkeypatch.setattr(fuzzy_prepare, "encode_identifiers", counting)
    return sizes


def test_fuzzy_prepare_in_small_batches_writes_the_keys_of_the_file_encoded_whole(
        generated, monkeypatch, encoded_rows):
    root, source, manifest, keys = generated
    results = {}
    for name, batch_rows in (("whole", 1_000_000), ("batched", 37)):
        monkeypatch.setattr(prepare_module, "BATCH_ROWS", batch_rows)
        encoded_rows.clear()
        for holder in HOLDERS:
            report = linkage.prepare(manifest, holder, source / f"{holder}.parquet",
                                     root / name, keys, PASSPHRASE)
            # The crosswalk is rewritten by each prepare: read it before the next.
            results[name, holder] = prepared_by_row(report, manifest, keys)
        assert max(encoded_rows) <= batch_rows
    assert max(r["report"]["records"] for r in results.values()) > 37 * 3
    params = params_for(manifest.spec)
    for holder in HOLDERS:
        whole, batched = results["whole", holder], results["batched", holder]
        # Only the random serials differ; the encodings are the same bytes, row for row.
        assert batched["keys"].equals(whole["keys"])
        assert batched["keys"].schema == whole["keys"].schema
        assert batched["payload"].equals(whole["payload"])
        assert batched["crosswalk"].equals(whole["crosswalk"])
        assert batched["report"] == whole["report"]
        # The key manager's link opens the keys by these fields, as before.
        assert batched["keys header"] == whole["keys header"]
        assert whole["keys header"]["mode"] == "fuzzy"
        assert whole["keys header"]["fuzzy_params"] == params.digest
        assert whole["keys header"]["recipes"] == whole["keys"].column_names
        assert set(whole["report"]["keys_per_recipe"]) == set(whole["keys"].column_names)


def test_fuzzy_prepare_with_a_tiny_batch_still_links(generated, monkeypatch):
    root, source, manifest, keys = generated
    monkeypatch.setattr(prepare_module, "BATCH_ROWS", 50)
    out = root / "linked-batched"
    for holder in HOLDERS:
        linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys, PASSPHRASE)
    report = linkage.link(manifest, [out / f"{h}.keys.age" for h in HOLDERS], root / "km",
                          keys, PASSPHRASE)
    assert report.links > 100


def test_fuzzy_prepare_cuts_batches_small_enough_to_keep_every_thread_busy(
        generated, monkeypatch, encoded_rows):
    # Bloom encoding runs one batch to a thread: the stage's batch of 500,000 records left
    # one thread the last third of a 750,000-record file alone.
    root, source, manifest, keys = generated
    monkeypatch.setattr(fuzzy_prepare, "FUZZY_BATCH_ROWS", 40)
    report = linkage.prepare(manifest, "ssis", source / "ssis.parquet", root / "small",
                             keys, PASSPHRASE)
    assert max(encoded_rows) == 40
    assert sum(encoded_rows) == report.records > 40 * 5
