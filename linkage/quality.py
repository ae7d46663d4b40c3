"""Linkage quality against a known truth, for synthetic data and benchmarks only.

It needs the holders' crosswalks and the combiner's link map together, which no party
holds in a real deployment; it exists to measure the pipeline, not to run in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from linkage.envelope import read_envelope
from linkage.errors import LinkageError
from linkage.keys.linkage_key import quote
from linkage.keys.project import ProjectManifest, as_manifest


@dataclass(frozen=True)
class LinkageQuality:
    true_pairs: int
    found_pairs: int
    correct_pairs: int

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0


def evaluate_linkage(linkmap_path: str | Path, crosswalks: Mapping[str, str | Path],
                     truth_path: str | Path, keys_dir: str | Path, passphrase: str,
                     project: ProjectManifest | str | Path, *,
                     as_party: str | None = None) -> LinkageQuality:
    """Compare linked pairs with the truth.

    ``crosswalks`` maps two holders to their crosswalk files; the truth file has one row per
    true pair, with the holders' record ids in columns ``{holder}_record_id``.
    """
    manifest = as_manifest(project)
    first, second = list(crosswalks)[:2]
    linkmap = read_envelope(linkmap_path, keys_dir, as_party or manifest.spec.combiner,
                            passphrase, manifest)
    # Set-wise in DuckDB: at 10 million records, dictionaries of every serial would not do.
    # Imported here, not with the package: the stages load their engine while their keys
    # unlock, and this module is for measuring only.
    import duckdb

    con = duckdb.connect()
    try:
        con.register("linkmap", linkmap.select(["link_id", "holder", "serial"]))
        for name, holder in (("c1", first), ("c2", second)):
            con.register(name, pq.read_table(crosswalks[holder], columns=["serial", "record_id"]))
        con.register("truth", pq.read_table(truth_path, columns=[f"{first}_record_id",
                                                                  f"{second}_record_id"]))
        one, two = quote(f"{first}_record_id"), quote(f"{second}_record_id")
        side = ("select m.link_id, c.record_id from linkmap m join {c} c using (serial) "
                "where m.holder = ?")
        linked, unknown = con.execute(
            "select count(*), count(*) filter (where c1.serial is null and c2.serial is null) "
            "from linkmap m left join c1 on m.holder = ? and c1.serial = m.serial "
            "left join c2 on m.holder = ? and c2.serial = m.serial where m.holder in (?, ?)",
            [first, second, first, second]).fetchone()
        if unknown:
            raise LinkageError(f"{linkmap_path}: {unknown} of {linked} linked serials are in no "
                               "crosswalk given")
        found, correct, true_pairs = con.execute(f"""
            with a as ({side.format(c="c1")}), b as ({side.format(c="c2")}),
                 found as (select distinct a.record_id as s, b.record_id as r
                           from a join b using (link_id)),
                 truth as (select distinct cast({one} as varchar) as s,
                                  cast({two} as varchar) as r from truth
                           where {one} is not null and {two} is not null)
            select (select count(*) from found),
                   (select count(*) from found semi join truth using (s, r)),
                   (select count(*) from truth)""", [first, second]).fetchone()
    finally:
        con.close()
    return LinkageQuality(true_pairs, found, correct)
