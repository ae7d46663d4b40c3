"""The airlock's intake: requests dropped in a room are filed as the room's owner, and
nothing a researcher puts in outputs/ makes the root-run intake read beyond it or stop.

The rooms here are real folders owned by a researcher's uid (the tests run as root, as
the hub does); the intake is the one the hub runs, swept by hand.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from analysis_env import Airlock
from analysis_env.hub.intake import Intake
from analysis_env.room_side.manifest import make_manifest

TABLE = "district,owner,tenant,Total\nJongno,25,12,37\nJung,40,31,71\nTotal,65,43,108\n"


@pytest.fixture
def intake(researcher_room, catalog_url) -> Intake:
    (researcher_room.workspace / "settings.toml").write_text(
        "[outputs]\nmax_file_bytes = 2000\n")
    return Intake(researcher_room.workspace, researcher_room.room_root, catalog_url,
                  researcher_room.hub_dir)


def _drop(room, ticket: str, data: bytes | str | dict) -> Path:
    """Put a manifest in the inbox as the researcher (their own file)."""
    inbox = room.outputs / ".airlock" / "inbox"
    for folder in (inbox.parent, inbox):
        folder.mkdir(exist_ok=True)
        os.chown(folder, room.uid, room.uid)
    if isinstance(data, dict):
        data = json.dumps({"version": 1, "context": "Tenure by district",
                           "controls": "counts of 10 or more", **data})
    path = inbox / f"{ticket}.json"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chown(path, room.uid, room.uid)
    return path


def _status(room, ticket: str) -> dict:
    path = room.outputs / ".airlock" / "status" / f"{ticket}.json"
    info = path.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (room.uid, 0o600)
    return json.loads(path.read_text())


def _requests(room, cat) -> list:
    return Airlock(room.workspace / "airlock", cat).list(actor="po1")


def test_a_dropped_request_is_filed_with_the_room_owner_as_author(researcher_room, intake, cat):
    room = researcher_room
    room.save("tables/tenure.csv", TABLE)
    _drop(room, "t1", make_manifest(["tables/tenure.csv"], "Tenure by district, table 3",
                                    "counts of 10 or more"))
    (outcome,) = intake.sweep()
    assert (outcome.user, outcome.ticket, outcome.error) == ("kim", "t1", None)
    (request,) = _requests(room, cat)
    assert (request.author, request.id) == ("kim", outcome.request_id)
    assert [(f.name, f.held) for f in request.files] == [("tables/tenure.csv", False)]
    answer = _status(room, "t1")
    assert answer["ok"] and answer["request"]["id"] == request.id
    assert not (room.outputs / ".airlock" / "inbox" / "t1.json").exists()
    assert list((room.workspace / "airlock" / "intake").iterdir()) == []
    listed = json.loads((room.outputs / ".airlock" / "requests.json").read_text())
    assert [r["id"] for r in listed["requests"]] == [request.id]
    assert intake.sweep() == []  # nothing new: nothing done


def test_each_room_files_as_its_own_researcher(researcher_room, intake, cat):
    lee = researcher_room.other("lee")
    for room in (researcher_room, lee):
        room.save("tenure.csv", TABLE)
        _drop(room, "same-ticket", {"files": ["tenure.csv"]})
    intake.sweep()
    assert sorted(r.author for r in _requests(researcher_room, cat)) == ["kim", "lee"]
    assert _status(lee, "same-ticket")["request"]["author"] == "lee"


def test_the_room_sees_what_became_of_its_request(researcher_room, intake, cat):
    room = researcher_room
    room.save("tenure.csv", TABLE)
    _drop(room, "t1", {"files": ["tenure.csv"]})
    (outcome,) = intake.sweep()
    airlock = Airlock(room.workspace / "airlock", cat)
    airlock.vote(outcome.request_id, "approve", actor="po1", reason="")
    airlock.vote(outcome.request_id, "return", actor="po2", reason="round to base 5")
    intake.sweep()
    (seen,) = json.loads((room.outputs / ".airlock" / "requests.json").read_text())["requests"]
    assert seen["state"] == "returned"
    assert {"decision": "return", "reason": "round to base 5"} in seen["files"][0]["votes"]
    assert "po2" not in json.dumps(seen)  # the room learns the reason, not who gave it


def _hostile(room, tmp_secret: Path) -> dict[str, tuple[dict | bytes | str, str]]:
    """Ticket -> (manifest, what the refusal must say), after laying out the traps."""
    root_file = room.save("roots.csv", TABLE, owner=0)
    outside = room.room_root / room.user / "home" / "mine.csv"
    outside.write_text(TABLE)
    os.chown(outside, room.uid, room.uid)
    os.link(outside, room.outputs / "hardlink.csv")
    os.symlink(tmp_secret, room.outputs / "link.csv")
    os.symlink(tmp_secret.parent, room.outputs / "linked-folder")
    os.mkfifo(room.outputs / "pipe.csv")
    os.chown(room.outputs / "pipe.csv", room.uid, room.uid)
    room.save("big.csv", "x" * 2001)
    assert root_file.stat().st_uid == 0
    return {
        "link": ({"files": ["link.csv"]}, "symbolic link"),
        "folder-link": ({"files": [f"linked-folder/{tmp_secret.name}"]},
                        "is a link or not a folder"),
        "hardlink": ({"files": ["hardlink.csv"]}, "2 hard links"),
        "pipe": ({"files": ["pipe.csv"]}, "not a regular file"),
        "big": ({"files": ["big.csv"]}, "over the airlock's limit of 2000 bytes"),
        "not-theirs": ({"files": ["roots.csv"]}, "belongs to another account"),
        "escape": ({"files": ["../data/MANIFEST.json"]}, "relative to outputs/"),
        "absolute": ({"files": [str(tmp_secret)]}, "relative to outputs/"),
        "missing": ({"files": ["nope.csv"]}, "no such file in outputs/"),
        "author": ({"files": ["hardlink.csv"], "author": "po1"}, "never the manifest"),
        "broken": ("{not json", "not JSON"),
        "huge": (b"[" + b" " * 70_000 + b"]", "over the limit for a manifest of 65536"),
        "kind": ({"files": ["big.csv"], "kinds": {"big.csv": "spreadsheet"}},
                 "is not one of"),
        "no-files": ({"files": []}, "at least one file"),
    }


def test_hostile_requests_are_refused_with_a_reason_and_nothing_is_read(
        researcher_room, intake, cat, tmp_path):
    room = researcher_room
    secret = tmp_path / "catalog-secret.csv"
    secret.write_text("rrn\n900101-1234567\n")
    os.chmod(secret, 0o600)
    cases = _hostile(room, secret)
    for ticket, (manifest, _) in cases.items():
        _drop(room, ticket, manifest)
    # A manifest that is itself a link to a root-only file.
    os.symlink(secret, room.outputs / ".airlock" / "inbox" / "manifest-link.json")
    cases["manifest-link"] = ({}, "symbolic link")
    room.save("tenure.csv", TABLE)
    _drop(room, "zz-good", {"files": ["tenure.csv"]})
    outcomes = {o.ticket: o for o in intake.sweep() + intake.sweep()}
    assert set(outcomes) == {*cases, "zz-good"}
    for ticket, (_, reason) in cases.items():
        assert outcomes[ticket].error and reason in outcomes[ticket].error, ticket
        answer = _status(room, ticket)
        assert not answer["ok"] and reason in answer["error"], ticket
    # Only the good request was filed, and no byte of the secret reached the store.
    (filed,) = _requests(room, cat)
    assert filed.id == outcomes["zz-good"].request_id
    store = room.workspace / "airlock" / "objects"
    assert all(b"900101" not in p.read_bytes() for p in store.iterdir())
    refused = [e for e in cat.audit_entries() if e["action"] == "airlock.intake_refused"]
    assert {e["target"] for e in refused} == set(cases)
    assert {e["actor"] for e in refused} == {"kim"}


def test_links_in_place_of_the_airlock_folders_are_not_followed(researcher_room, intake,
                                                                 tmp_path):
    room = researcher_room
    decoy = tmp_path / "decoy"
    (decoy / "inbox").mkdir(parents=True)
    (decoy / "inbox" / "t1.json").write_bytes(make_manifest(["x.csv"], "c", "c"))
    os.symlink(decoy, room.outputs / ".airlock")
    assert intake.sweep() == []
    assert sorted(p.name for p in decoy.rglob("*")) == ["inbox", "t1.json"]
    os.unlink(room.outputs / ".airlock")
    # The answers' folder a link to a root-only place: the request is filed, no answer
    # is written there.
    room.save("tenure.csv", TABLE)
    _drop(room, "t2", {"files": ["tenure.csv"]})
    os.symlink(decoy, room.outputs / ".airlock" / "status")
    (outcome,) = intake.sweep()
    assert outcome.error is None
    assert not (decoy / "t2.json").exists()


def test_a_folder_named_like_a_manifest_is_answered_once(researcher_room, intake):
    room = researcher_room
    _drop(room, "placeholder", {"files": ["x"]}).unlink()
    folder = room.outputs / ".airlock" / "inbox" / "t1.json"
    folder.mkdir()
    (folder / "inside").write_text("x")
    os.chown(folder, room.uid, room.uid)
    (outcome,) = intake.sweep()
    assert "not a regular file" in outcome.error
    assert intake.sweep() == []


def test_rooms_the_hub_did_not_make_are_ignored(researcher_room, intake):
    stray = researcher_room.room_root / "stranger" / "outputs" / ".airlock" / "inbox"
    stray.mkdir(parents=True)
    (stray / "t1.json").write_bytes(make_manifest(["x.csv"], "c", "c"))
    (researcher_room.room_root / ".pseudolink").mkdir()
    assert [user for user, _ in intake.rooms()] == ["kim"]
    assert intake.sweep() == []
