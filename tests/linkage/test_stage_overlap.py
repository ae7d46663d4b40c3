"""Work a stage overlaps with unlocking its keys (issue 21) must not outrun the unlock:
prepare reads and normalises while scrypt runs, but hashes nothing and publishes nothing
until the keys opened, and a wrong passphrase still stops it with the usual message."""

from __future__ import annotations

import pytest

import linkage
from linkage.engines.duckdb import DuckDBEngine
from tests.linkage.conftest import PASSPHRASE


def test_prepare_with_a_wrong_passphrase_hashes_and_publishes_nothing(world, monkeypatch):
    hashed = []
    real = DuckDBEngine.linkage_keys
    monkeypatch.setattr(DuckDBEngine, "linkage_keys",
                        lambda self, *a: hashed.append(1) or real(self, *a))
    with pytest.raises(linkage.LinkageError, match="wrong passphrase"):
        linkage.prepare(world.manifest, "ssis", world.root / "ssis.csv", world.exchange,
                        world.keys, "not the passphrase at all")
    assert hashed == []
    assert not list(world.exchange.glob("ssis.*"))
    assert not world.crosswalk("ssis").exists()
    # The same call with the right passphrase prepares as ever.
    report = linkage.prepare(world.manifest, "ssis", world.root / "ssis.csv", world.exchange,
                             world.keys, PASSPHRASE)
    assert report.records == 5 and hashed and world.crosswalk("ssis").exists()
