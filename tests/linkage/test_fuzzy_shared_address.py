"""Fuzzy mode with the street address as an identifier: people who share an address.

A street address is evidence about a household, not a person. A building record with no RRN
has no birth date, so before the address salted the names it had no name comparison at all,
and an exact address outvoted a different phone: the owner was linked to whoever else lived
there (issue 18: 514 such false pairs at a million people, where Splink, which sees the
names, made none). These records are planted in generated registers so each case is known.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from tests.linkage.conftest import PASSPHRASE, fuzzy_project

STRANGER, NAMESAKE = "B-STRANGER", "B-OWN-RECORD"


def _row(table: pa.Table, record_id: str) -> dict:
    return table.filter(pc.equal(table.column("record_id"), record_id)).to_pylist()[0]


@pytest.fixture(scope="module")
def shared_address(tmp_path_factory, party_keys):
    root = tmp_path_factory.mktemp("shared-address")
    source = root / "source"
    linkage.generate_synthetic_data(source, 3_000, areas=anonymize.load_admin_areas(), seed=5,
                                    typo_rate=0.1)
    ssis = pq.read_table(source / "ssis.parquet")
    building = pq.read_table(source / "building.parquet")
    partnered = set(pq.read_table(source / "truth.parquet").column("ssis_record_id").to_pylist())
    # Social-security people with no building record, each with a phone: three strangers.
    alone = [r for r in ssis.column("record_id").to_pylist()
             if r not in partnered][:3]
    host, neighbour, owner = (_row(ssis, r) for r in alone)
    assert all(p["phone"] for p in (host, neighbour, owner))
    # The neighbour moves in with the owner, and comes first in the file: with names
    # unseen, the two would tie on the address alone and the first would win.
    ssis = ssis.set_column(
        ssis.column_names.index("address"), "address",
        pc.if_else(pc.equal(ssis.column("record_id"), neighbour["record_id"]),
                   owner["address"], ssis.column("address")))
    template = building.slice(0, 1).to_pylist()[0]
    planted = [
        # Owns a building at the host's address, but is somebody else: another name and
        # another phone, no RRN (so no birth date) to tell them apart.
        {**template, "record_id": STRANGER, "owner_name": "탁무진", "owner_rrn": None,
         "owner_phone": "010-9999-0001", "address": host["address"]},
        # The owner's own building record: the owner's name, no RRN and no phone, at
        # the address the owner now shares.
        {**template, "record_id": NAMESAKE, "owner_name": owner["name"],
         "owner_rrn": None, "owner_phone": None, "address": owner["address"]},
    ]
    building = pa.concat_tables([building, pa.Table.from_pylist(planted,
                                                                schema=building.schema)])
    pq.write_table(ssis, source / "ssis.parquet")
    pq.write_table(building, source / "building.parquet")

    # Both holders declare the street address, as bench/fuzzy_scale.py does.
    spec = (source / "project.toml").read_text(encoding="utf-8")
    (source / "project.toml").write_text(
        re.sub(r"^(identifiers = \{.*) \}$", r'\1, address = "address" }', spec,
               flags=re.MULTILINE), encoding="utf-8")
    manifest, keys = fuzzy_project(source, party_keys, root)
    out = root / "exchange"
    crosswalks = {}
    for holder in ("ssis", "building"):
        prepared = linkage.prepare(manifest, holder, source / f"{holder}.parquet", out, keys,
                                   PASSPHRASE)
        crosswalks[holder] = prepared.outputs["crosswalk"]
    report = linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                          root / "km", keys, PASSPHRASE)
    linkmap = linkage.read_envelope(root / "km" / "linkmap.age", keys, "agency", PASSPHRASE,
                                    manifest)
    record = {h: dict(zip(*(pq.read_table(p).column(c).to_pylist()
                           for c in ("serial", "record_id")), strict=True))
              for h, p in crosswalks.items()}
    clusters: dict[str, dict[str, str]] = {}
    for row in linkmap.to_pylist():
        clusters.setdefault(row["link_id"], {})[row["holder"]] = record[row["holder"]][
            row["serial"]]
    return {"linked": {c["building"]: c["ssis"] for c in clusters.values()},
            "host": host["record_id"], "neighbour": neighbour["record_id"],
            "owner": owner["record_id"], "report": report, "source": source,
            "crosswalks": crosswalks, "keys": keys, "manifest": manifest}


def test_an_owner_at_someone_elses_address_with_another_name_and_phone_is_not_linked(
        shared_address):
    linked = shared_address["linked"]
    assert STRANGER not in linked, "linked on the street address alone"
    assert shared_address["host"] not in linked.values()


def test_an_owner_with_only_a_name_links_to_the_namesake_at_the_address_not_the_neighbour(
        shared_address):
    linked = shared_address["linked"]
    assert linked.get(NAMESAKE) == shared_address["owner"]
    assert shared_address["neighbour"] not in linked.values()


def test_the_address_salts_the_names_and_the_generated_pairs_still_link(shared_address):
    run = shared_address
    assert run["report"].fuzzy["salted"]["name"] == ["dob~year", "address"]
    quality = linkage.evaluate_linkage(
        run["source"].parent / "km" / "linkmap.age", run["crosswalks"],
        run["source"] / "truth.parquet", run["keys"], PASSPHRASE, run["manifest"])
    assert quality.recall >= 0.995
    assert quality.precision >= 0.999


def test_names_salted_by_address_resist_frequency_and_grouping_attacks(tmp_path):
    # The key manager sees each record's name filter under the birth year and under the
    # address, and may join records through either: an address is shared by few people,
    # so it groups no more records by name than the birth year does.
    from collections import Counter

    from tests.linkage.test_fuzzy_encoding import (
        Filters,
        _component_attack,
        _filters,
        _frequency_attack,
    )

    linkage.generate_synthetic_data(tmp_path, 100_000, areas=anonymize.load_admin_areas(),
                                    seed=5)
    table = pq.read_table(tmp_path / "ssis.parquet", columns=["name", "dob", "address"])
    names = table.column("name").to_pylist()
    years = [d[:4] for d in table.column("dob").to_pylist()]
    population = Counter(names)
    by_year = _filters(names, salts=years)
    by_address = _filters(names, salts=table.column("address").to_pylist(),
                          salt_name="address")
    both = Filters(np.hstack([by_year.words, by_address.words]),
                   by_year.counts + by_address.counts, by_year.valid)
    assert _frequency_attack(both, names, population) < 0.01
    assert _component_attack([by_year, by_address], names, population) < 0.01
