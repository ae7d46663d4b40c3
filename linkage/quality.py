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
                            passphrase, manifest).to_pylist()
    record_of = {}
    for holder in (first, second):
        crosswalk = pq.read_table(crosswalks[holder], columns=["serial", "record_id"])
        record_of[holder] = dict(zip(crosswalk.column("serial").to_pylist(),
                                     crosswalk.column("record_id").to_pylist(), strict=True))
    clusters: dict[str, dict[str, str]] = {}
    for row in linkmap:
        if row["holder"] in record_of:
            clusters.setdefault(row["link_id"], {})[row["holder"]] = \
                record_of[row["holder"]][row["serial"]]
    found = {(c[first], c[second]) for c in clusters.values() if first in c and second in c}
    truth = pq.read_table(truth_path, columns=[f"{first}_record_id", f"{second}_record_id"])
    true_pairs = {
        (str(a), str(b)) for a, b in zip(truth.column(0).to_pylist(),
                                         truth.column(1).to_pylist(), strict=True)
        if a is not None and b is not None
    }
    return LinkageQuality(len(true_pairs), len(found), len(found & true_pairs))
