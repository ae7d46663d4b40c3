"""Linkage quality against a known truth, for synthetic data and benchmarks only.

It needs the holders' crosswalks and the combiner's link map together, which no party
holds in a real deployment; it exists to measure the pipeline, not to run in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkage.envelope import read_envelope
from linkage.errors import LinkageError
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
    true pair, with the holders' record ids in columns ``{holder}_record_id``. Set-wise
    with Arrow's joins (at 10 million records, dictionaries of every serial would not do),
    outside any engine: this measures what an engine wrote.
    """
    manifest = as_manifest(project)
    first, second = list(crosswalks)[:2]
    linkmap = read_envelope(linkmap_path, keys_dir, as_party or manifest.spec.combiner,
                            passphrase, manifest).select(["link_id", "holder", "serial"])
    sides, linked, unknown = [], 0, 0
    for holder, name in ((first, "s"), (second, "r")):
        mine = linkmap.filter(pc.equal(linkmap.column("holder"), holder)).select(
            ["link_id", "serial"])
        walk = pq.read_table(crosswalks[holder], columns=["serial", "record_id"])
        linked += mine.num_rows
        unknown += mine.num_rows - int(pc.sum(pc.is_in(
            mine.column("serial"), value_set=walk.column("serial").combine_chunks())).as_py()
            or 0)
        ids = mine.join(walk, "serial", join_type="inner").select(["link_id", "record_id"])
        sides.append(ids.rename_columns(["link_id", name]))
    if unknown:
        raise LinkageError(f"{linkmap_path}: {unknown} of {linked} linked serials are in no "
                           "crosswalk given")
    found = _distinct_pairs(sides[0].join(sides[1], "link_id", join_type="inner"))
    truth = pq.read_table(truth_path, columns=[f"{first}_record_id", f"{second}_record_id"])
    truth = _distinct_pairs(truth.rename_columns(["s", "r"]).drop_null())
    correct = found.join(truth, ["s", "r"], join_type="left semi").num_rows
    return LinkageQuality(truth.num_rows, found.num_rows, correct)


def _distinct_pairs(table: pa.Table) -> pa.Table:
    """The distinct (``s``, ``r``) record id pairs of ``table``, as text."""
    pairs = pa.table({c: pc.cast(table.column(c), pa.string()) for c in ("s", "r")})
    return pairs.group_by(["s", "r"]).aggregate([])
