"""One round of clerical review without plaintext (issue 20): the key manager sends each
holder its own serials of the uncertain pairs (padded with decoys), the holder answers by
review id, and the next link applies the answers."""

from __future__ import annotations

import shutil
import tomllib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from linkage.fuzzy import review
from linkage.prepare import private_dir
from tests.linkage.conftest import PASSPHRASE, fuzzy_project


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, party_keys):
    root = tmp_path_factory.mktemp("review")
    source = root / "source"
    linkage.generate_synthetic_data(source, 400, areas=anonymize.load_admin_areas(), seed=5,
                                    typo_rate=0.2)
    manifest, keys = fuzzy_project(source, party_keys, root)
    out = root / "exchange"
    for holder in ("ssis", "building"):
        # Heavy corruption leaves more than 5% of RRNs with a bad check digit: accepted here.
        linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys, PASSPHRASE,
                        max_invalid_share=0.2)
    keys_files = [out / "ssis.keys.age", out / "building.keys.age"]
    first = linkage.link(manifest, keys_files, root / "km", keys, PASSPHRASE,
                         review_band=(0.0, 1.0))
    return root, keys, manifest, keys_files, first


def _serials(keys, manifest, holder):
    path = linkage.crosswalk_path(keys, manifest.id, holder)
    return set(pq.read_table(path, columns=["serial"]).column("serial").to_pylist())


def test_review_list_holds_only_the_holders_own_serials_padded_with_decoys(reviewed):
    root, keys, manifest, _, first = reviewed
    pairs = first.fuzzy["review"]["pairs"]
    assert pairs == first.fuzzy["mutual_best_pairs"] > 0
    listing = linkage.read_envelope(root / "km" / "ssis.review.age", keys, "ssis", PASSPHRASE,
                                    manifest)
    assert listing.column_names == ["review_id", "serial", "probability"]
    assert listing.num_rows == 2 * pairs                     # as many decoys as entries
    serials = set(listing.column("serial").to_pylist())
    assert serials <= _serials(keys, manifest, "ssis")
    assert not serials & _serials(keys, manifest, "building")
    with pytest.raises(linkage.LinkageError):               # sealed to ssis alone
        linkage.read_envelope(root / "km" / "ssis.review.age", keys, "building", PASSPHRASE,
                              manifest)


def test_one_round_of_decisions_changes_the_next_link(reviewed):
    root, keys, manifest, keys_files, first = reviewed
    sheet = review.review_sheet(manifest, "ssis", root / "km" / "ssis.review.age", keys,
                                PASSPHRASE)
    assert sheet.column_names == ["review_id", "record_id", "probability"]
    # The ssis clerk rejects every entry it was sent (decoys included, unknowingly).
    answers = root / "ssis-decisions.csv"
    pq.write_table(pa.table({"review_id": sheet.column("review_id"),
                             "decision": ["non-match"] * sheet.num_rows}),
                   answers.with_suffix(".parquet"))
    sealed = review.seal_decisions(manifest, "ssis", root / "km" / "ssis.review.age",
                                   answers.with_suffix(".parquet"), root / "back", keys,
                                   PASSPHRASE)
    assert sealed.name == "ssis.decisions.age"
    second = linkage.link(manifest, keys_files, root / "km2", keys, PASSPHRASE,
                          decisions=[sealed])
    applied = second.fuzzy["review_decisions"]
    assert applied["rejected"] == first.fuzzy["review"]["pairs"]   # decoys are ignored
    assert applied["links_removed"] == first.links and second.links == 0


def test_decisions_naming_no_review_entry_are_refused_with_row_and_column(reviewed, tmp_path):
    root, keys, manifest, *_ = reviewed
    bad = tmp_path / "decisions.csv"
    bad.write_text("review_id,decision\nnot-an-id,match\n", encoding="utf-8")
    with pytest.raises(linkage.InputError, match=r"decisions.csv, row 2, column 'review_id'"):
        review.seal_decisions(manifest, "ssis", root / "km" / "ssis.review.age", bad,
                              tmp_path / "out", keys, PASSPHRASE)
    assert not (tmp_path / "out" / "ssis.decisions.age").exists()


def test_a_band_must_be_two_ordered_probabilities():
    assert review.parse_band("0.3:0.9") == (0.3, 0.9)
    for text in ("0.9:0.3", "0.5", "a:b", "0:1.5"):
        with pytest.raises(linkage.LinkageError, match="--review-band"):
            review.parse_band(text)


def test_one_review_round_through_the_cli(tmp_path, party_keys, monkeypatch):
    import csv

    from typer.testing import CliRunner

    from pseudolink.cli import holder, link, project, project_accept  # noqa: F401
    from pseudolink.cli.app import app

    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    source = tmp_path / "source"
    linkage.generate_synthetic_data(source, 300, areas=anonymize.load_admin_areas(), seed=3,
                                    typo_rate=0.2)
    text = (source / "project.toml").read_text(encoding="utf-8")
    spec = tmp_path / "project.toml"
    spec.write_text(text.split("[[recipes]]")[0].replace('mode = "exact"', 'mode = "fuzzy"'),
                    encoding="utf-8")

    def run(*args):
        result = CliRunner().invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == 0, result.output
        return result

    project_id = tomllib.loads(spec.read_text(encoding="utf-8"))["project"]["id"]
    run("project", "create", "--spec", str(spec))
    for holder_id in ("ssis", "building"):
        run("project", "accept", "--project", project_id, "--holder", holder_id, "--yes")
    for holder_id in ("ssis", "building"):
        run("holder", "prepare", "--project", project_id, "--holder", holder_id, "--input",
            str(source / f"{holder_id}.parquet"), "--out", str(tmp_path / "x"),
            "--max-invalid-share", "0.2")
    keys = [str(tmp_path / "x" / f"{h}.keys.age") for h in ("ssis", "building")]
    run("link", "--project", project_id, "--keys", *keys, "--out", str(tmp_path / "km"),
        "--review-band", "0:1")
    run("holder", "review", "--project", project_id, "--holder", "building", "--review",
        str(tmp_path / "km" / "building.review.age"))
    sheet = private_dir(work / "keys", project_id) / "building.review.csv"
    assert sheet.stat().st_mode & 0o077 == 0
    with sheet.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"review_id", "record_id", "probability", "decision"}
    answers = tmp_path / "answers.csv"
    with answers.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review_id", "decision"])
        writer.writerows([r["review_id"], "non-match"] for r in rows)
    run("holder", "review", "--project", project_id, "--holder", "building", "--review",
        str(tmp_path / "km" / "building.review.age"), "--decisions", str(answers),
        "--out", str(tmp_path / "back"))
    result = run("link", "--project", project_id, "--keys", *keys, "--out",
                 str(tmp_path / "km2"), "--decisions",
                 str(tmp_path / "back" / "building.decisions.age"))
    assert "0 links" in result.output
    # The clerk's sheet and the key manager's record of decoys are project artefacts.
    state = review.review_state_path(work / "keys", project_id)
    assert state.exists()
    run("project", "close", "--project", project_id)
    assert not sheet.exists() and not state.exists()


def test_blank_rows_are_left_to_the_model_and_another_holders_ids_are_refused(
        reviewed, tmp_path):
    root, keys, manifest, keys_files, _ = reviewed
    sheet = review.review_sheet(manifest, "ssis", root / "km" / "ssis.review.age", keys,
                                PASSPHRASE)
    partly = tmp_path / "partly.parquet"
    pq.write_table(pa.table({"review_id": sheet.column("review_id"),
                             "decision": ["match"] + [""] * (sheet.num_rows - 1)}), partly)
    sealed = review.seal_decisions(manifest, "ssis", root / "km" / "ssis.review.age", partly,
                                   tmp_path / "back", keys, PASSPHRASE)
    assert linkage.read_envelope(sealed, keys, "keymanager", PASSPHRASE,
                                 manifest).num_rows == 1
    # building, bypassing seal_decisions, answers with ssis's review ids: the key manager
    # refuses them, since they were never issued to building.
    from linkage.envelope import seal

    forged = tmp_path / "building.decisions.age"
    seal(forged, pa.table({"review_id": sheet.column("review_id"),
                           "decision": ["match"] * sheet.num_rows}),
         kind="decisions", project=manifest,
         sender=linkage.load_party_secret(keys, "building", PASSPHRASE),
         recipient=manifest.party("keymanager"))
    with pytest.raises(linkage.LinkageError, match="no review list issued to 'building'"):
        linkage.link(manifest, keys_files, tmp_path / "km", keys, PASSPHRASE,
                     decisions=[forged])
