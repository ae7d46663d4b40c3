"""A project's stages, files, close and retention, as the catalog records them (issue 16)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import catalog

PARTIES = {"hana": "holder", "kim": "key_manager", "choi": "combiner",
           "po1": "privacy_officer", "alice": "researcher"}


@pytest.fixture
def project(cat: catalog.Catalog) -> str:
    """An open project with one user per role (``root`` is the administrator)."""
    cat.bootstrap_admin("root", "an administrator's long password")
    for user, role in PARTIES.items():
        cat.record_user(user, role=role, actor="root")
    cat.record_project("housing-2026", purpose="scientific_research", mode="exact",
                       spec={"holders": [{"id": "ssis"}, {"id": "building"}]}, actor="root")
    return "housing-2026"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_link_map_written_outside_the_workspace_is_destroyed_by_close(
        cat: catalog.Catalog, project: str, tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    keys = _write(root / "out" / "ssis.keys.age", b"keys")
    crosswalk = _write(root / "out" / "ssis.crosswalk.parquet", b"crosswalk")
    linkmap = _write(elsewhere / "linkmap.age", b"link map")
    cat.record_stage(project, "prepare", actor="hana", root=root, holder="ssis",
                     outputs={"keys": keys, "crosswalk": crosswalk})
    cat.record_stage(project, "link", actor="kim", root=root, holder="keymanager",
                     outputs={"linkmap": linkmap})
    recorded = {a.kind: a.path for a in cat.artefacts(project)}
    assert recorded == {"keys": "out/ssis.keys.age", "crosswalk": "out/ssis.crosswalk.parquet",
                        "linkmap": str(linkmap.resolve())}

    certificate = cat.destroy_project(project, actor="choi", root=root)

    assert not keys.exists() and not crosswalk.exists() and not linkmap.exists()
    assert cat.artefacts(project) == []
    assert cat.project_status(project).status == "closed"
    assert [(f["kind"], f["state"]) for f in certificate["files"]] == [
        ("keys", "destroyed"), ("crosswalk", "destroyed"), ("linkmap", "destroyed")]
    logged = cat.audit_entries()[-1]
    assert logged["action"] == "project.destruction_certificate"
    assert logged["actor"] == "choi"
    assert logged["details"]["files"][2]["sha256"] == certificate["files"][2]["sha256"]
    assert cat.verify_audit().ok


def test_certificate_says_when_a_file_was_changed_or_gone_before_close(
        cat: catalog.Catalog, project: str, tmp_path: Path) -> None:
    payload = _write(tmp_path / "ssis.payload.age", b"payload")
    crosswalk = _write(tmp_path / "ssis.crosswalk.parquet", b"crosswalk")
    cat.record_stage(project, "prepare", actor="hana", root=tmp_path, holder="ssis",
                     outputs={"payload": payload, "crosswalk": crosswalk})
    payload.write_bytes(b"rewritten")
    crosswalk.unlink()
    certificate = cat.destroy_project(project, actor="hana", root=tmp_path)
    states = {f["kind"]: f["state"] for f in certificate["files"]}
    assert states == {"payload": "destroyed_changed", "crosswalk": "absent"}
    assert certificate["absent"] == 1
    assert not payload.exists()


def test_stages_are_recorded_only_by_the_party_that_runs_them(
        cat: catalog.Catalog, project: str, tmp_path: Path) -> None:
    linkmap = _write(tmp_path / "linkmap.age", b"map")
    with pytest.raises(catalog.PermissionRefused, match=r"stage\.link"):
        cat.record_stage(project, "link", actor="hana", root=tmp_path, holder="ssis",
                         outputs={"linkmap": linkmap})
    with pytest.raises(catalog.PermissionRefused, match="not an active user"):
        cat.record_stage(project, "link", actor="cli:root", root=tmp_path,
                         holder="keymanager", outputs={"linkmap": linkmap})
    assert cat.artefacts(project) == []
    refusals = [e for e in cat.audit_entries() if e["action"] == "access.refused"]
    assert [e["details"]["action"] for e in refusals] == ["stage.link", "stage.link"]


def test_status_lists_stages_files_and_retention(cat: catalog.Catalog, project: str,
                                                 tmp_path: Path) -> None:
    keys = _write(tmp_path / "ssis.keys.age", b"keys")
    cat.record_stage(project, "prepare", actor="hana", root=tmp_path, holder="ssis",
                     outputs={"keys": keys}, details={"records": 5})
    cat.record_stage(project, "precheck", actor="kim", root=tmp_path, holder="keymanager")
    until = datetime(2027, 12, 31, tzinfo=UTC)
    cat.set_retention(project, until, actor="po1")
    status = cat.project_status(project)
    assert status.holders == ["ssis", "building"]
    assert [(s["stage"], s["actor"], s["party"]) for s in status.stages] == [
        ("prepare", "hana", "ssis"), ("precheck", "kim", "keymanager")]
    assert [a.kind for a in status.artefacts] == ["keys"]
    assert status.retain_until == until
    assert [p.id for p in cat.list_projects()] == [project]
    prepared = next(e for e in cat.audit_entries() if e["action"] == "stage.prepare")
    assert prepared["details"]["records"] == 5
    # The file's digest, never its contents.
    assert prepared["details"]["files"] == [{
        "kind": "keys", "path": "ssis.keys.age", "size": 4,
        "sha256": hashlib.sha256(b"keys").hexdigest()}]


def test_closed_project_accepts_no_more_stages(cat: catalog.Catalog, project: str,
                                               tmp_path: Path) -> None:
    cat.destroy_project(project, actor="root", root=tmp_path)
    with pytest.raises(catalog.CatalogError, match="closed"):
        cat.record_stage(project, "prepare", actor="hana", root=tmp_path, holder="ssis")


def test_sweep_destroys_revoked_and_expired_releases_and_lapsed_projects(
        cat: catalog.Catalog, project: str, tmp_path: Path) -> None:
    cat.register_dataset("combined", title="Combined", path=str(tmp_path / "c.parquet"),
                         columns={"link_id": "other"}, project_id=project, lineage={},
                         actor="root")
    now = datetime.now(UTC)
    artifacts = {}
    for release_id, form, expires in (("kept", "dp_aggregate", None),
                                      ("revoked", "synthetic", None),
                                      ("lapsed-takeout", "take_out", now - timedelta(days=1))):
        artifacts[release_id] = _write(tmp_path / "releases" / f"{release_id}.parquet", b"r")
        cat.record_release(release_id, dataset_id="combined", form=form, title=release_id,
                           artifact=str(artifacts[release_id]), checksum="0" * 64,
                           parameters={}, actor="po1", expires_at=expires)
    cat.revoke_release("revoked", actor="po1", reason="re-identification found")
    crosswalk = _write(tmp_path / "ssis.crosswalk.parquet", b"crosswalk")
    cat.record_stage(project, "prepare", actor="hana", root=tmp_path, holder="ssis",
                     outputs={"crosswalk": crosswalk})
    cat.set_retention(project, now - timedelta(seconds=1), actor="po1")

    with pytest.raises(catalog.PermissionRefused):
        cat.sweep(actor="alice", root=tmp_path)
    report = cat.sweep(actor="po1", root=tmp_path)

    assert sorted(report.destroyed_releases) == ["lapsed-takeout", "revoked"]
    assert artifacts["kept"].exists()
    assert not artifacts["revoked"].exists() and not artifacts["lapsed-takeout"].exists()
    assert not crosswalk.exists()
    destroyed = [e["details"] for e in cat.audit_entries() if e["action"] == "release.destroy"]
    assert sorted((d["why"], d["found"]) for d in destroyed) == [("expired", True),
                                                               ("revoked", True)]
    assert [c["reason"] for c in report.retention_certificates] == ["retention period ended"]
    again = cat.sweep(actor="po1", root=tmp_path)
    assert again.destroyed_releases == [] and again.retention_certificates == []


def test_take_out_and_room_releases_are_never_open_data(cat: catalog.Catalog, project: str,
                                                        tmp_path: Path) -> None:
    cat.register_dataset("combined", title="Combined", path=str(tmp_path / "c.parquet"),
                         columns={"link_id": "other"}, project_id=project, lineage={},
                         actor="root")
    for form in ("take_out", "secure_room", "dp_aggregate"):
        cat.record_release(f"r-{form}", dataset_id="combined", form=form, title=form,
                           artifact=f"{form}.parquet", checksum="0" * 64, parameters={},
                           actor="po1", is_open=True)
    assert [r.id for r in cat.open_releases()] == ["r-dp_aggregate"]
    assert cat.get_release("r-take_out") is None and cat.get_release("r-secure_room") is None
