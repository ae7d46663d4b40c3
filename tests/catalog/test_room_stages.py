"""A room's start and stop are stages of the project whose data it holds, under a person."""

from __future__ import annotations

import pytest

import catalog
from tests.catalog.conftest import make_request


def _stages(cat: catalog.Catalog) -> list[tuple[str, str]]:
    return [(s["stage"], s["actor"]) for s in cat.project_status("housing-2026").stages]


def test_a_researchers_room_start_and_stop_are_project_stages(cat, people) -> None:
    make_request(cat, "grant-1", state="active")
    rooms = catalog.RoomStages(cat)
    assert rooms.start("alice", actor="alice",
                       datasets={"housing-combined": ["ssis__sido"]}) == ["housing-2026"]
    assert rooms.stop("alice", actor=catalog.ROOM_SYSTEM,
                      reason="server stopped") == ["housing-2026"]
    assert _stages(cat)[-2:] == [("room_start", "alice"), ("room_stop", "system:room")]
    start = next(e for e in cat.audit_entries() if e["action"] == "stage.room_start")
    assert start["details"]["researcher"] == "alice"
    assert start["details"]["grants"] == ["grant-1"]
    assert [f["kind"] for f in start["details"]["files"]] == ["room_extract"]
    # A second stop (the revoker after the hub) closes no project twice.
    assert rooms.stop("alice", actor=catalog.ROOM_SYSTEM, reason="revoked") == []
    assert cat.verify_audit().ok


def test_nobody_starts_someone_elses_room_and_the_attempt_is_audited(cat, people) -> None:
    make_request(cat, "grant-1", state="active")
    rooms = catalog.RoomStages(cat)
    for actor in ("bob", "cora", "hana", "nobody-at-all"):
        with pytest.raises(catalog.PermissionRefused):
            rooms.start("alice", actor=actor)
    with pytest.raises(catalog.PermissionRefused):
        rooms.stop("alice", actor="bob", reason="mischief")
    assert not [s for s in _stages(cat) if s[0].startswith("room_")]
    refused = {e["actor"] for e in cat.audit_entries() if e["action"] == "access.refused"}
    assert {"bob", "cora", "hana"} <= refused


def test_no_room_starts_without_an_active_grant(cat, people) -> None:
    make_request(cat, "grant-1", state="approved")
    with pytest.raises(catalog.CatalogError, match="no active secure-room grant"):
        catalog.RoomStages(cat).start("alice", actor="alice")
    assert not [e for e in cat.audit_entries() if e["action"].startswith(("room.", "stage.room"))]
