"""No party learns membership in another party's data, and holder-only files stay with the
holder (issue 14, items 2 and 6)."""

from __future__ import annotations

import stat

import pyarrow.parquet as pq
import pyrage

import linkage
from tests.linkage.conftest import PASSPHRASE


def test_holder_cannot_tell_its_matched_records(world, tmp_path):
    world.prepare_all()
    km_out, agency_out = tmp_path / "km", tmp_path / "agency"
    linkage.link(world.manifest, world.keys_files(), km_out, world.keys, PASSPHRASE)
    linkage.combine(world.manifest, km_out / "linkmap.age", world.payload_files(),
                    agency_out / "combined.parquet", world.keys, PASSPHRASE)
    # Everything the key manager and the agency produce, as a holder could receive it.
    received = [p for p in [*km_out.rglob("*"), *agency_out.rglob("*")] if p.is_file()]
    assert received
    for holder_id in ("ssis", "building"):
        me = linkage.load_party_secret(world.keys, holder_id, PASSPHRASE)
        serials = pq.read_table(world.crosswalk(holder_id)).column("serial").to_pylist()
        for path in received:
            data = path.read_bytes()
            try:
                data = pyrage.decrypt(data, [me.identity])
            except pyrage.DecryptError:
                pass
            else:
                raise AssertionError(f"{path.name} opens for holder {holder_id}")
            assert not any(s.encode() in data for s in serials), path.name


def test_crosswalk_stays_private(world):
    reports = world.prepare_all()
    assert not list(world.exchange.glob("*crosswalk*"))
    # Only what is meant to travel (and the holder's counts): the sealed halves, each with
    # whatever signed header the envelope carries, and the prepare report.
    assert {p.name.split(".")[1] for p in world.exchange.iterdir()} == {
        "keys", "payload", "prepare"}
    for holder_id, report in reports.items():
        crosswalk = world.crosswalk(holder_id)
        assert report.outputs["crosswalk"] == str(crosswalk)
        assert stat.S_IMODE(crosswalk.stat().st_mode) == 0o600
        assert stat.S_IMODE(crosswalk.parent.stat().st_mode) == 0o700
        assert crosswalk.is_relative_to(world.keys.parent)  # the holder's own workspace
