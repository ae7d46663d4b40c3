"""Fuzzy mode end to end on generated registers with Korean typos, as the user runs it."""

from __future__ import annotations

import json

import pytest

import anonymize
import linkage
from tests.linkage.conftest import PASSPHRASE, fuzzy_project


@pytest.fixture(scope="module")
def fuzzy_run(tmp_path_factory, party_keys):
    root = tmp_path_factory.mktemp("fuzzy")
    source = root / "source"
    linkage.generate_synthetic_data(source, 3_000, areas=anonymize.load_admin_areas(), seed=11,
                                    typo_rate=0.1)
    manifest, keys = fuzzy_project(source, party_keys, root)
    out = root / "exchange"
    crosswalks = {}
    for holder in ("ssis", "building"):
        prepared = linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys,
                                   PASSPHRASE)
        crosswalks[holder] = prepared.outputs["crosswalk"]
    report = linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                          root / "km", keys, PASSPHRASE)
    return root, source, keys, manifest, out, report, crosswalks


def test_fuzzy_mode_finds_typo_pairs_at_high_precision(fuzzy_run):
    root, source, keys, manifest, _, _, crosswalks = fuzzy_run
    quality = linkage.evaluate_linkage(
        root / "km" / "linkmap.age", crosswalks,
        source / "truth.parquet", keys, PASSPHRASE, manifest)
    assert quality.recall >= 0.99
    assert quality.precision >= 0.995


def test_quality_refuses_crosswalks_that_do_not_hold_the_linked_serials(fuzzy_run):
    """Crosswalks swapped between the holders name none of the linked serials: the
    evaluation says so, rather than reporting a recall of nothing."""
    root, source, keys, manifest, _, _, crosswalks = fuzzy_run
    swapped = {"ssis": crosswalks["building"], "building": crosswalks["ssis"]}
    with pytest.raises(linkage.LinkageError, match=r"linked serials are in no crosswalk"):
        linkage.evaluate_linkage(root / "km" / "linkmap.age", swapped,
                                 source / "truth.parquet", keys, PASSPHRASE, manifest)


def test_fuzzy_keys_file_holds_no_plaintext_identifier(fuzzy_run):
    _, source, keys, _, out, *_ = fuzzy_run
    table = linkage.read_envelope(out / "ssis.keys.age", keys, "keymanager", PASSPHRASE)
    assert all(c == "serial" or c.startswith(("bloom:", "block:")) for c in table.column_names)
    import pyarrow.parquet as pq

    names = pq.read_table(source / "ssis.parquet", columns=["name"]).column("name")
    plain = table.to_pandas().to_string().encode()
    for name in names.to_pylist()[:50]:
        assert name.encode() not in plain


def test_link_report_shows_model_and_weights(fuzzy_run):
    root, *_, report, _ = fuzzy_run
    saved = json.loads((root / "km" / "link-report.json").read_text(encoding="utf-8"))
    model = saved["fuzzy"]["model"]["fields"]
    assert set(model) == {"name", "rrn", "dob", "phone"}
    for levels in model.values():
        assert levels["exact"]["m"] > levels["exact"]["u"]
    assert sum(saved["fuzzy"]["weight_histogram"]["counts"]) == saved["fuzzy"]["candidates"]
    assert saved["links"] == report.links > 0
    assert saved["fuzzy"]["threshold"]["estimated_precision"] >= 0.995


def test_fuzzy_link_refuses_unknown_engines(fuzzy_run):
    root, _, keys, manifest, out, *_ = fuzzy_run
    with pytest.raises(linkage.LinkageError,
                       match=r"unknown engine 'polars' \(engines: duckdb, spark\)"):
        linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                     root / "km2", keys, PASSPHRASE, engine="polars")


def test_fuzzy_link_gives_the_same_links_and_report_on_every_engine(fuzzy_run, engine,
                                                                      tmp_path):
    # The module's run linked on DuckDB in this process; each engine (Spark on its
    # cluster: blocking, comparison, scoring and resolution in the executors) links the
    # same keys files to the same record pairs, model and counts.
    root, _, keys, manifest, out, *_ = fuzzy_run

    def linked(folder) -> tuple[set, dict]:
        linkmap = linkage.read_envelope(folder / "linkmap.age", keys, "agency", PASSPHRASE,
                                        manifest)
        clusters: dict[str, set] = {}
        for row in linkmap.to_pylist():
            clusters.setdefault(row["link_id"], set()).add((row["holder"], row["serial"]))
        report = json.loads((folder / "link-report.json").read_text(encoding="utf-8"))
        report.pop("outputs")
        for volatile in ("seconds", "engine"):
            report["fuzzy"].pop(volatile)
        return {frozenset(c) for c in clusters.values()}, report

    linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"], tmp_path, keys,
                 PASSPHRASE, engine=engine)
    clusters, report = linked(tmp_path)
    expected_clusters, expected_report = linked(root / "km")
    assert len(expected_clusters) > 1_000
    assert clusters == expected_clusters
    assert report == expected_report
