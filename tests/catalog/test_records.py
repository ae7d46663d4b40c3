"""Projects, datasets and releases: what is recorded reads back, and only open releases show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import catalog


def _release(cat: catalog.Catalog, release_id: str, dataset: str, **overrides: object
             ) -> catalog.ReleaseInfo:
    fields: dict = {"dataset_id": dataset, "form": "dp_aggregate", "title": f"Release {release_id}",
                    "artifact": f"/releases/{release_id}.parquet", "checksum": "a" * 64,
                    "parameters": {"epsilon": 1.0}, "actor": "officer"}
    fields.update(overrides)
    return cat.record_release(release_id, **fields)


def test_release_reads_back_with_its_dataset_columns(cat: catalog.Catalog, dataset: str) -> None:
    recorded = _release(cat, "dp-by-sido", dataset, description="시도별 수급자 수",
                        parameters={"epsilon": 0.5, "mechanism": "laplace"})
    got = cat.get_release("dp-by-sido")
    assert got == recorded
    assert got.dataset_id == dataset
    assert got.description == "시도별 수급자 수"
    assert got.parameters == {"epsilon": 0.5, "mechanism": "laplace"}
    assert got.columns == {"link_id": "other", "ssis__sido": "quasi_identifier",
                           "ssis__benefit_type": "sensitive"}
    assert got.created_at.tzinfo is not None
    assert got.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - got.created_at) < timedelta(minutes=1)
    assert got.expires_at is None and got.is_open


def test_rerecording_a_release_replaces_it_and_is_audited(cat: catalog.Catalog,
                                                          dataset: str) -> None:
    _release(cat, "synthetic", dataset, form="synthetic", checksum="1" * 64)
    _release(cat, "synthetic", dataset, form="synthetic", checksum="2" * 64)
    assert [r.id for r in cat.open_releases()] == ["synthetic"]
    assert cat.get_release("synthetic").checksum == "2" * 64
    last = cat.audit_entries()[-1]
    assert last["action"] == "release.replace"
    assert last["details"]["checksum"] == "2" * 64
    assert last["details"]["replaced_checksum"] == "1" * 64


def test_open_releases_hide_revoked_expired_and_closed_ones(cat: catalog.Catalog,
                                                            dataset: str) -> None:
    now = datetime.now(UTC)
    _release(cat, "old-open", dataset)
    _release(cat, "revoked", dataset)
    _release(cat, "expired", dataset, expires_at=now - timedelta(seconds=1))
    _release(cat, "closed", dataset, is_open=False)
    _release(cat, "until-next-year", dataset, expires_at=now + timedelta(days=365))
    cat.revoke_release("revoked", actor="officer", reason="re-identification risk found")

    assert [r.id for r in cat.open_releases()] == ["until-next-year", "old-open"]
    for hidden in ("revoked", "expired", "closed", "never-recorded"):
        assert cat.get_release(hidden) is None
    assert cat.get_release("until-next-year").expires_at == now + timedelta(days=365)


def test_project_roundtrip_and_closed_project_stays_closed(cat: catalog.Catalog) -> None:
    from tests.accounts import person

    person(cat, "agency", "combiner")
    before = len(cat.audit_entries())
    cat.record_project("p1", purpose="statistics", mode="exact", spec={"a": 1}, actor="agency")
    cat.record_project("p1", purpose="statistics", mode="fuzzy", spec={"a": 2}, actor="agency")
    cat.close_project("p1", actor="agency")
    with pytest.raises(catalog.CatalogError, match="already closed"):
        cat.close_project("p1", actor="agency")
    with pytest.raises(catalog.CatalogError, match="cannot be recorded again"):
        cat.record_project("p1", purpose="statistics", mode="exact", spec={}, actor="agency")
    actions = [e["action"] for e in cat.audit_entries()[before:]]
    assert actions == ["project.record", "project.update", "project.close"]


def test_dataset_reregistration_replaces_its_columns(cat: catalog.Catalog, dataset: str) -> None:
    cat.register_dataset(dataset, title="v2", path="/data/v2.parquet",
                         columns={"ssis__sido": "other", "age_band": "quasi_identifier"},
                         project_id=None, lineage={}, actor="agency")
    assert cat.dataset_columns(dataset) == {"ssis__sido": "other",
                                            "age_band": "quasi_identifier"}


@pytest.mark.parametrize(("call", "message"), [
    (lambda c, d: c.register_dataset("x", title="x", path="/x", columns={"rrn": "secret"},
                                     project_id=None, lineage={}, actor="agency"),
     "column 'rrn': classification 'secret' is not one of"),
    (lambda c, d: c.register_dataset("x", title="x", path="/x", columns={}, project_id="nope",
                                     lineage={}, actor="agency"),
     "no project 'nope'"),
    (lambda c, d: _release(c, "r", d, form="email"), "form 'email' is not one of"),
    (lambda c, d: _release(c, "r", "no-such-dataset"), "no dataset 'no-such-dataset'"),
    (lambda c, d: _release(c, "r", d, expires_at=datetime(2030, 1, 1)), "needs a time zone"),
    (lambda c, d: c.record_project("p", purpose="marketing", mode="exact", spec={}, actor="a"),
     "purpose 'marketing'"),
    (lambda c, d: c.revoke_release("missing", actor="officer", reason="r"), "no release 'missing'"),
    (lambda c, d: _release(c, "r", d, parameters={"epsilon": float("nan")}), "nan"),
])
def test_bad_input_is_refused_with_a_clear_error(cat: catalog.Catalog, dataset: str, call,
                                                 message: str) -> None:
    before = len(cat.audit_entries())
    with pytest.raises(catalog.CatalogError, match=message):
        call(cat, dataset)
    assert len(cat.audit_entries()) == before
