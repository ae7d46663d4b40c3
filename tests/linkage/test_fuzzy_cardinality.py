"""A register that holds several records per person links many-to-one when the spec says so.

FEBRL2 and FEBRL3 (and a building register listing an owner once per building) have
several records of one person on one side; one-to-one resolution could link only one of
them and silently lose the rest.
"""

from __future__ import annotations

import shutil
import tomllib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import anonymize
import linkage
from tests.linkage.conftest import PASSPHRASE, accept_all


@pytest.fixture(scope="module")
def duplicated(tmp_path_factory, party_keys):
    """ssis against two building registers of the same people stacked into one."""
    root = tmp_path_factory.mktemp("cardinality")
    copies, truths = [], []
    for index, rate in enumerate((0.05, 0.1)):
        source = root / f"source{index}"
        linkage.generate_synthetic_data(source, 800, areas=anonymize.load_admin_areas(),
                                        seed=5, typo_rate=rate)
        building = pq.read_table(source / "building.parquet")
        ids = pc.binary_join_element_wise(f"c{index}-", building.column("record_id"), "")
        copies.append(building.set_column(0, "record_id", ids))
        truth = pq.read_table(source / "truth.parquet")
        truths.append(truth.set_column(1, "building_record_id", pc.binary_join_element_wise(
            f"c{index}-", truth.column("building_record_id"), "")))
    pq.write_table(pa.concat_tables(copies), root / "building.parquet")
    pq.write_table(pa.concat_tables(truths), root / "truth.parquet")
    keys = root / "keys"
    shutil.copytree(party_keys, keys)
    data = tomllib.loads((root / "source0" / "project.toml").read_text(encoding="utf-8"))
    data["project"]["mode"] = "fuzzy"
    del data["recipes"]
    return root, keys, data


def _link(root, keys, data, cardinality, name=""):
    project_id = f"dup-{cardinality}{name}".replace("_", "-")
    data = {**data, "project": {**data["project"], "id": project_id},
            "fuzzy": {"cardinality": cardinality}}
    work = root / project_id
    manifest = accept_all(linkage.create_project(linkage.ProjectSpec.from_dict(data), keys,
                                                 work / "project"), keys)
    out = work / "exchange"
    crosswalks = {}
    for holder, path in (("ssis", root / "source0" / "ssis.parquet"),
                         ("building", root / "building.parquet")):
        crosswalks[holder] = linkage.prepare(manifest, holder, path, out, keys,
                                             PASSPHRASE).outputs["crosswalk"]
    report = linkage.link(manifest, [out / "ssis.keys.age", out / "building.keys.age"],
                          work / "km", keys, PASSPHRASE)
    quality = linkage.evaluate_linkage(work / "km" / "linkmap.age", crosswalks,
                                       root / "truth.parquet", keys, PASSPHRASE, manifest)
    return report, quality, manifest, work


def test_many_to_one_links_every_duplicate_to_its_person(duplicated):
    report, quality, *_ = _link(*duplicated, "many_to_one")
    assert report.fuzzy["cardinality"] == "many_to_one"
    assert quality.recall >= 0.99
    assert quality.precision >= 0.995


def test_many_to_one_links_combine_into_one_row_per_linked_pair(duplicated):
    """A person with two building records appears on two rows, once with each."""
    keys = duplicated[1]
    report, _, manifest, work = _link(*duplicated, "many_to_one", "-combined")
    out = work / "exchange"
    combined = linkage.combine(manifest, work / "km" / "linkmap.age",
                               [out / "ssis.payload.age", out / "building.payload.age"],
                               work / "combined.parquet", keys, PASSPHRASE)
    assert combined.rows == report.links
    table = pq.read_table(work / "combined.parquet")
    assert table.num_rows == report.links
    assert len(table.column("link_id").unique()) == report.links


def test_one_to_one_keeps_at_most_one_record_per_person(duplicated):
    _, quality, *_ = _link(*duplicated, "one_to_one")
    assert quality.recall <= 0.55  # each person's second building record is left out


def test_an_unknown_cardinality_is_refused_naming_the_key(tmp_path):
    with pytest.raises(linkage.LinkageError, match=r"fuzzy\.cardinality"):
        linkage.ProjectSpec.from_dict({
            "project": {"id": "p", "purpose": "scientific_research", "mode": "fuzzy"},
            "holders": [{"id": h, "identifiers": {"n": "name"}} for h in ("a", "b")],
            "fuzzy": {"cardinality": "many_to_many"}})
