"""One round of clerical review without plaintext (issue 20): the key manager sends each
holder its own serials of the uncertain pairs (padded with decoys), the holder answers by
review id, and the next link applies the answers."""

from __future__ import annotations

import importlib
import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


# --- Review on Spark: in the executors, never in the driver (issue 18) -------------------

@contextmanager
def _driver_reads_no_records() -> Iterator[None]:
    """Refuse, while it lasts, every way this process (the Spark driver) could take in a
    table of records: the in-process fuzzy path, a whole-table Parquet read, a Spark frame
    pulled back whole, and a collect of a frame that names records."""
    try:    # PySpark 4: the frames sessions make are this subclass, with its own methods
        from pyspark.sql.classic.dataframe import DataFrame
    except ImportError:
        from pyspark.sql import DataFrame

    # The module, not the function ``linkage.fuzzy`` exports under the same name.
    fuzzy_link = importlib.import_module("linkage.fuzzy.link")

    collect = DataFrame.collect

    def refuse(*args, **kwargs):
        raise AssertionError("the driver read a table of records")

    def aggregates_only(frame: DataFrame) -> list:
        # Counts and patterns may come back; a frame naming records (serials, row
        # indices, review ids) may not, however few its rows.
        named = set(frame.columns) & {"serial", "left_serial", "right_serial", "ls", "rs",
                                      "review_id", "i", "l", "r"}
        if named:
            raise AssertionError(f"the driver collected records ({sorted(named)})")
        return collect(frame)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DataFrame, "collect", aggregates_only)
        patch.setattr(fuzzy_link, "link_tables", refuse)
        patch.setattr(pq, "read_table", refuse)
        patch.setattr(pq.ParquetFile, "read", refuse)
        patch.setattr(pq.ParquetFile, "iter_batches", refuse)
        patch.setattr(DataFrame, "toArrow", refuse)
        patch.setattr(DataFrame, "toPandas", refuse)
        yield


def _workspace_copy(root: Path, dest: Path) -> Path:
    """A copy of the key manager's (and, here, every party's) keys and private folder: the
    review state lives there, so each engine's round runs in its own."""
    shutil.copytree(root / "keys", dest / "keys")
    shutil.copytree(root / "private", dest / "private")
    return dest / "keys"


def _band(reviewed) -> tuple[float, float]:
    """A band that keeps some mutual-best pairs and leaves others out at both ends: the
    midpoints between neighbouring distinct probabilities, scored here (a test's view)."""
    from linkage.fuzzy.link import read_keys, score_candidates
    from linkage.fuzzy.params import params_for

    _, keys, manifest, keys_files, _ = reviewed
    params = params_for(manifest.spec)
    tables = read_keys(manifest, keys_files,
                       manifest.unlock_as("key_manager", None, keys, PASSPHRASE), params)
    scored = score_candidates(*tables.values(), params)
    values = np.unique(scored.probability[scored.resolved])
    assert len(values) >= 4
    low, high = len(values) // 4, 3 * len(values) // 4
    return (float(values[low - 1] + values[low]) / 2,
            float(values[high - 1] + values[high]) / 2)


@pytest.fixture(scope="module")
def band_on_each_engine(reviewed, spark_engine, tmp_path_factory):
    """The reviewed project's keys files linked with one band on DuckDB and on Spark (its
    driver refusing every read of records), each in its own copy of the workspace."""
    root, _, manifest, keys_files, _ = reviewed
    band = _band(reviewed)
    runs = {}
    for name, engine in (("duckdb", "duckdb"), ("spark", spark_engine)):
        base = tmp_path_factory.mktemp(f"band-{name}")
        keys = _workspace_copy(root, base)
        with _driver_reads_no_records() if name == "spark" else nullcontext():
            report = linkage.link(manifest, keys_files, base / "km", keys, PASSPHRASE,
                                  engine=engine, review_band=band)
        runs[name] = (base, keys, report)
    return band, runs


def _review_files(manifest, base: Path, keys: Path) -> tuple[pa.Table, dict[str, pa.Table]]:
    state = pq.read_table(review.review_state_path(keys, manifest.id))
    listings = {h: linkage.read_envelope(review.review_path(base / "km", h), keys, h,
                                         PASSPHRASE, manifest) for h in ("ssis", "building")}
    return state, listings


@pytest.mark.spark
def test_spark_lists_the_same_band_pairs_with_as_many_decoys_as_duckdb(
        reviewed, band_on_each_engine):
    _, _, manifest, _, _ = reviewed
    (low, high), runs = band_on_each_engine
    seen = {}
    for name, (base, keys, report) in runs.items():
        state, listings = _review_files(manifest, base, keys)
        path = review.review_state_path(keys, manifest.id)
        assert report.outputs["review_state"] == str(path)
        assert path.stat().st_mode & 0o777 == 0o600
        pairs = report.fuzzy["review"]["pairs"]
        assert 0 < pairs < report.fuzzy["mutual_best_pairs"]
        real = state.filter(pc.invert(state.column("decoy")))
        band_pairs = set(zip(real.column("left_serial").to_pylist(),
                             real.column("right_serial").to_pylist(), strict=True))
        assert len(band_pairs) == pairs
        probability = {}
        for side, holder in enumerate(("ssis", "building")):
            listing = listings[holder]
            mine = state.filter(pc.equal(state.column("holder"), holder))
            ids = listing.column("review_id").to_pylist()
            assert len(set(ids)) == len(ids) == mine.num_rows == 2 * pairs
            assert set(ids) == set(mine.column("review_id").to_pylist())
            decoy = dict(zip(mine.column("review_id").to_pylist(),
                             mine.column("decoy").to_pylist(), strict=True))
            assert sum(decoy.values()) == pairs * review.DECOYS_PER_ENTRY
            in_band = {p[side] for p in band_pairs}
            for row in listing.to_pylist():
                assert round(low, 4) <= row["probability"] <= round(high, 4)
                if decoy[row["review_id"]]:
                    assert row["serial"] not in in_band       # a decoy is never a pair
                else:
                    probability[holder, row["serial"]] = row["probability"]
            assert {s for h, s in probability if h == holder} == in_band
            assert set(listing.column("serial").to_pylist()) <= _serials(keys, manifest,
                                                                         holder)
        seen[name] = {"pairs": band_pairs, "probability": probability,
                      "review": report.fuzzy["review"], "links": report.links,
                      "schema": [(f.name, f.type) for f in state.schema],
                      "listing": [(f.name, f.type) for f in listings["ssis"].schema]}
    assert seen["spark"] == seen["duckdb"]


@pytest.mark.spark
def test_a_review_list_written_on_spark_opens_for_its_holder_alone_and_makes_a_sheet(
        reviewed, band_on_each_engine):
    _, _, manifest, _, _ = reviewed
    _, runs = band_on_each_engine
    base, keys, _ = runs["spark"]
    for holder, other in (("ssis", "building"), ("building", "ssis")):
        listing = review.review_path(base / "km", holder)
        with pytest.raises(linkage.LinkageError):
            linkage.read_envelope(listing, keys, other, PASSPHRASE, manifest)
        sheet = review.review_sheet(manifest, holder, listing, keys, PASSPHRASE)
        assert sheet.column_names == ["review_id", "record_id", "probability"]
        assert sheet.num_rows == linkage.read_envelope(listing, keys, holder, PASSPHRASE,
                                                       manifest).num_rows
        assert sheet.column("record_id").null_count == 0


@pytest.mark.spark
def test_decisions_applied_on_spark_link_what_duckdb_links(reviewed, band_on_each_engine,
                                                           spark_engine, tmp_path):
    _, _, manifest, keys_files, _ = reviewed
    _, runs = band_on_each_engine
    issued, issued_keys, _ = runs["spark"]
    rng = np.random.default_rng(11)
    # Random answers, but one linked pair rejected by every holder and another pair
    # confirmed, read off the key manager's state: which pairs the random answers hit
    # depends on the run's key (about 1 run in 150 had no rejection or no confirmation).
    state = pq.read_table(review.review_state_path(issued_keys, manifest.id)).to_pylist()
    linked = _linked_serial_pairs(manifest, issued / "km" / "linkmap.age", issued_keys)
    real = sorted({(e["left_serial"], e["right_serial"]) for e in state if not e["decoy"]})
    rejected = next(p for p in real if p in linked)
    confirmed = next(p for p in real if p != rejected)
    fixed = {(e["holder"], e["review_id"]): "non-match" if pair == rejected else "match"
             for e in state if (pair := (e["left_serial"], e["right_serial"]))
             in (rejected, confirmed) and not e["decoy"]}
    sealed = []
    for holder in ("ssis", "building"):
        listing = review.review_path(issued / "km", holder)
        sheet = review.review_sheet(manifest, holder, listing, issued_keys, PASSPHRASE)
        answers = tmp_path / f"{holder}.parquet"
        drawn = rng.choice(["match", "non-match", ""], sheet.num_rows, p=[0.5, 0.3, 0.2])
        pq.write_table(pa.table({
            "review_id": sheet.column("review_id"),
            "decision": [fixed.get((holder, rid), said) for rid, said in
                         zip(sheet.column("review_id").to_pylist(), drawn, strict=True)]}),
            answers)
        sealed.append(review.seal_decisions(manifest, holder, listing, answers,
                                            tmp_path / "back", issued_keys, PASSPHRASE))
    results = {}
    for name, engine in (("duckdb", "duckdb"), ("spark", spark_engine)):
        base = tmp_path / name
        keys = _workspace_copy(issued, base)        # the state the lists were issued from
        with _driver_reads_no_records() if name == "spark" else nullcontext():
            report = linkage.link(manifest, keys_files, base / "km", keys, PASSPHRASE,
                                  engine=engine, decisions=sealed)
        linkmap = linkage.read_envelope(base / "km" / "linkmap.age", keys, "agency",
                                        PASSPHRASE, manifest)
        clusters: dict[str, set] = {}
        for row in linkmap.to_pylist():
            clusters.setdefault(row["link_id"], set()).add((row["holder"], row["serial"]))
        results[name] = ({frozenset(c) for c in clusters.values()}, report.links,
                         report.fuzzy["review_decisions"])
    applied = results["duckdb"][2]
    assert applied["rejected"] > 0 and applied["confirmed"] > 0
    assert applied["links_removed"] > 0
    assert results["spark"] == results["duckdb"]


def _linked_serial_pairs(manifest, linkmap: Path, keys: Path) -> set[tuple[str, str]]:
    """(ssis serial, building serial) of each two-record cluster of a link map."""
    clusters: dict[str, dict[str, str]] = {}
    for row in linkage.read_envelope(linkmap, keys, "agency", PASSPHRASE,
                                     manifest).to_pylist():
        clusters.setdefault(row["link_id"], {})[row["holder"]] = row["serial"]
    return {(c["ssis"], c["building"]) for c in clusters.values() if len(c) == 2}


def _engine_keys(tmp_path: Path) -> tuple[object, dict[str, Path]]:
    """Two small holders' fuzzy keys files (serials a0000..., b0000...) with typos."""
    from linkage.fuzzy import params_for
    from linkage.fuzzy.prepare import encode_identifiers

    spec = linkage.ProjectSpec.from_dict({
        "project": {"id": "p", "purpose": "statistics", "mode": "fuzzy"},
        "holders": [{"id": h, "identifiers": {"n": "name", "d": "dob", "p": "phone"}}
                    for h in ("a", "b")]})
    params = params_for(spec)
    rng = np.random.default_rng(5)
    given = ["민준", "서연", "지훈", "하은", "도윤", "서준", "지우", "예린", "시우", "수아"]
    people = [(f"{s}{g}", f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1"
               f"{rng.integers(0, 9)}", f"010{rng.integers(10_000_000, 99_999_999)}")
              for s in "김이박최정강" for g in given]
    typo = [(n[:-1] + "준" if i % 5 == 0 else n, d, p if i % 3 else None)
            for i, (n, d, p) in enumerate(people)]
    files = {}
    for holder, rows in (("a", people), ("b", typo)):
        names, dobs, phones = map(list, zip(*rows, strict=True))
        table = encode_identifiers(pa.table({"name": names, "dob": dobs, "phone": phones}),
                                   bytes(range(32)), params)
        files[holder] = tmp_path / f"{holder}.parquet"
        pq.write_table(table.append_column(
            "serial", pa.array([f"{holder}{i:04d}" for i in range(len(rows))])),
            files[holder], row_group_size=7)
    return params, files


def _linked_pairs(linkmap: Path) -> set[tuple[str, str]]:
    clusters: dict[str, dict[str, str]] = {}
    for row in pq.read_table(linkmap).to_pylist():
        clusters.setdefault(row["link_id"], {})[row["holder"]] = row["serial"]
    return {(c["a"], c["b"]) for c in clusters.values()}


@pytest.mark.spark
def test_spark_takes_competing_confirmed_pairs_in_the_order_duckdb_takes_them(
        spark_engine, tmp_path):
    from linkage.engines.base import ReviewRequest
    from linkage.engines.duckdb import DuckDBEngine

    params, files = _engine_keys(tmp_path)
    DuckDBEngine().fuzzy_link_files(files, params, tmp_path / "plain.parquet")
    kept = sorted(_linked_pairs(tmp_path / "plain.parquet"))
    assert len(kept) >= 40
    rejected, (a4, b4), (a5, b5) = kept[:4], kept[4], kept[5]
    # The records of four rejected kept pairs come free, named in order of their serials.
    a0, a1, a2, a3 = sorted(a for a, _ in rejected)
    b0, b1, b2, b3 = sorted(b for _, b in rejected)
    # Rejected: those four (by one holder or the other) and a pair on which the holders
    # disagree. Confirmed: a chain whose pairs compete for records (taken in order of
    # serials: a0-b1, a1-b2, a2-b3), a pair of free records (a3-b0), one whose right record
    # stays linked (a3-b4) and one naming a record these files lack.
    entries = [*(("a" if n % 2 else "b", a, b, "non-match") for n, (a, b) in
                 enumerate(rejected)),
               ("a", a5, b5, "match"), ("b", a5, b5, "non-match"),
               ("a", a0, b1, "match"), ("a", a0, b2, "match"), ("b", a1, b2, "match"),
               ("a", a1, b3, "match"), ("a", a2, b3, "match"), ("b", a2, b3, "match"),
               ("a", a3, b0, "match"), ("b", a3, b0, "match"), ("a", a3, b4, "match"),
               ("a", a4, "b9999", "match")]
    ids = [f"r{n:03d}" for n in range(len(entries) + 1)]
    pq.write_table(pa.table({
        "review_id": ids,
        "holder": [e[0] for e in entries] + ["a"],
        "decoy": [False] * len(entries) + [True],          # a decision on a decoy: ignored
        "left_serial": [e[1] for e in entries] + [None],
        "right_serial": [e[2] for e in entries] + [None]}), tmp_path / "state.parquet")
    decisions = {}
    for holder in ("a", "b"):
        rows = [(i, e[3]) for i, e in zip(ids, entries, strict=False) if e[0] == holder]
        rows += [(ids[-1], "match")] if holder == "a" else []
        data = tmp_path / f"{holder}.decisions.parquet"
        pq.write_table(pa.table({"review_id": [r[0] for r in rows],
                                 "decision": [r[1] for r in rows]}), data)
        decisions[holder] = (tmp_path / f"{holder}.decisions.age", data)
    request = ReviewRequest(earlier_state=tmp_path / "state.parquet", decisions=decisions)
    outcomes, linked = {}, {}
    for name, engine in (("duckdb", DuckDBEngine()), ("spark", spark_engine)):
        out = tmp_path / f"{name}.linkmap.parquet"
        outcomes[name] = engine.fuzzy_link_files(files, params, out, review=request)
        linked[name] = _linked_pairs(out)
    expected = (set(kept) - {*rejected, (a5, b5)}) | {(a0, b1), (a1, b2), (a2, b3), (a3, b0)}
    assert linked["duckdb"] == expected
    assert linked["spark"] == linked["duckdb"]
    assert outcomes["duckdb"].details["review_decisions"] == {
        "confirmed": 8, "rejected": 5, "links_added": 4, "links_removed": 5}
    assert (outcomes["spark"].details["review_decisions"]
            == outcomes["duckdb"].details["review_decisions"])
    assert outcomes["spark"].links == outcomes["duckdb"].links == len(expected)
