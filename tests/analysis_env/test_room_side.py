"""The room's side of the airlock: `pseudolink airlock request|status` as the room runs
it (the installed launcher, under the researcher's uid), the manifest it drops, and the
tools the hub installs for every room."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from analysis_env import Airlock
from analysis_env.hub import tools
from analysis_env.hub.intake import Intake
from analysis_env.room_side import client
from analysis_env.room_side.manifest import ManifestError, make_manifest, parse_manifest

TABLE = "district,owner,tenant,Total\nJongno,25,12,37\nJung,40,31,71\nTotal,65,43,108\n"
PYTHON = "/usr/bin/python3"


def test_a_manifest_never_names_an_author_or_a_path_out_of_outputs():
    good = parse_manifest(make_manifest(["a.csv", "tables/b.csv"], "context", "controls",
                                        {"a.csv": "frequency_table"}))
    assert good.files == ["a.csv", "tables/b.csv"]
    for doc, reason in (
            ({"files": ["a.csv"], "author": "po1"}, "never the manifest"),
            ({"files": ["a/../../b.csv"]}, "without '..'"),
            ({"files": [".airlock/status/x.json"]}, "airlock's own folder"),
            ({"files": ["a.csv", "a.csv"]}, "named twice"),
            ({"files": ["a.csv"], "context": "  "}, "'context' must say"),
            ({"files": ["a.csv"], "version": 2}, "version 2"),
            ({"files": [f"f{i}.csv" for i in range(51)]}, "at most 50")):
        full = {"version": 1, "context": "c", "controls": "c", **doc}
        with pytest.raises(ManifestError, match=re.escape(reason)):
            parse_manifest(json.dumps(full).encode())


def test_file_names_are_taken_relative_to_outputs_from_anywhere_in_the_room(tmp_path):
    room = tmp_path / "kim"
    outputs = room / "outputs"
    (outputs / "tables").mkdir(parents=True)
    (outputs / "tables" / "t.csv").write_text(TABLE)
    (room / "elsewhere.csv").write_text(TABLE)
    (outputs / "link.csv").symlink_to(room / "elsewhere.csv")
    assert client.relative_name(outputs, "outputs/tables/t.csv", cwd=room) == "tables/t.csv"
    assert client.relative_name(outputs, "tables/t.csv", cwd=room) == "tables/t.csv"
    assert client.relative_name(outputs, "t.csv", cwd=outputs / "tables") == "tables/t.csv"
    with pytest.raises(client.ClientError, match="not a file in"):
        client.relative_name(outputs, "elsewhere.csv", cwd=room)
    with pytest.raises(client.ClientError, match=r"without '\.\.'"):
        client.relative_name(outputs, "../elsewhere.csv", cwd=outputs)
    with pytest.raises(client.ClientError, match="links are refused"):
        client.relative_name(outputs, "link.csv", cwd=outputs)


def test_checkers_commands_say_they_run_outside_the_room(capsys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_OUTPUTS", "/nonexistent")
    assert client.main(["airlock", "vote", "out-1", "approve", "--as", "po1"]) == 2
    assert "runs outside the room" in capsys.readouterr().err
    monkeypatch.setenv("JUPYTERHUB_USER", "kim")
    assert client.main(["airlock", "request", "a.csv", "--as", "lee", "--context", "c",
                        "--controls", "c"]) == 2
    assert "you are kim in this room" in capsys.readouterr().err


def test_hub_installs_the_room_tools_read_only_for_the_room(tmp_path):
    installed = tools.install_room_tools(tmp_path, Path(PYTHON))
    again = tools.install_room_tools(tmp_path, Path(PYTHON))
    assert installed == again == tmp_path / ".pseudolink"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pseudolink"]
    for path in [installed, *installed.rglob("*")]:
        info = path.stat()
        assert info.st_uid == 0 and not info.st_mode & 0o022, path
        assert info.st_mode & 0o004, path
    assert os.access(installed / "bin" / "pseudolink", os.X_OK)
    config = json.loads((installed / "etc" / "jupyter" / "jupyter_server_config.json")
                        .read_text())
    assert config["ServerApp"]["jpserver_extensions"] == {"pseudolink_room": True}
    assert (installed / "lib" / "pseudolink_room" / "server_ext.py").exists()


def test_the_lab_menu_opens_the_page_of_this_room_in_a_tab(researcher_room):
    room = researcher_room
    home = room.room_root / room.user
    config = tools.write_lab_menu(home, room.uid, "/user/kim/airlock")
    path = config / "labconfig" / "default_setting_overrides.json"
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, room.uid, 0o440)
    (menu,) = json.loads(path.read_text())[tools.MENU_PLUGIN]["menus"]
    (item,) = menu["items"]
    assert (menu["label"], item["command"]) == ("반출 Airlock", "help:open")
    assert item["args"] == {"url": "/user/kim/airlock",
                            "text": "결과 반출 신청 (Release outputs)", "newBrowserTab": True}


def _as_researcher(room, toolbox: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{toolbox / 'bin'}:/usr/bin:/bin", "PSEUDOLINK_OUTPUTS": str(room.outputs),
           "JUPYTERHUB_USER": room.user, "HOME": str(room.room_root / room.user / "home")}
    return subprocess.run(["pseudolink", *args], cwd=cwd, env=env, user=room.uid,
                          group=room.uid, extra_groups=[], capture_output=True, text=True,
                          timeout=60)


def test_the_room_files_a_request_with_its_own_pseudolink_and_sees_its_status(
        researcher_room, catalog_url, cat):
    """The installed launcher, run as the researcher's uid, with the intake sweeping."""
    if not Path(PYTHON).exists():
        pytest.skip(f"{PYTHON} missing")
    room = researcher_room
    toolbox = tools.install_room_tools(room.room_root, Path(PYTHON))
    room.save("tenure.csv", TABLE)
    intake = Intake(room.workspace, room.room_root, catalog_url, room.hub_dir)
    done = threading.Event()

    def sweep() -> None:
        while not done.wait(0.2):
            intake.sweep()

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    try:
        home = room.room_root / room.user
        filed = _as_researcher(room, toolbox, "airlock", "request", "outputs/tenure.csv",
                               "--context", "Tenure by district", "--controls", "n >= 10",
                               cwd=home)
        refused = _as_researcher(room, toolbox, "airlock", "request", "../data/MANIFEST.json",
                                 "--context", "c", "--controls", "c", cwd=room.outputs)
        status = _as_researcher(room, toolbox, "airlock", "status", cwd=home)
    finally:
        done.set()
        sweeper.join()
    assert filed.returncode == 0, filed.stderr
    request_id = filed.stdout.split("\n")[1].split(":")[0]
    assert f"{request_id}: submitted" in filed.stdout
    assert "ok   every published cell counts at least 10 units" in filed.stdout
    assert refused.returncode == 2 and "without '..'" in refused.stderr
    assert f"{request_id}: submitted" in status.stdout
    assert [r.author for r in Airlock(room.workspace / "airlock", cat).list(actor="po1")] == [
        "kim"]
