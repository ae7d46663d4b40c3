"""The room's walls on their own (issue 15, item 2): the bubblewrap sandbox and the seccomp
filter, without a hub. The real hub's probes are in ``test_room_e2e``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from analysis_env.hub import sandbox, seccomp
from tests.conftest import skip_unless_ci

ROOM_PYTHON = Path(os.environ.get("PSEUDOLINK_ROOM_PYTHON", "/opt/pseudolink-room/bin/python"))


def _pairs(words: list[str], flag: str) -> list[str]:
    return [words[i + 1] for i, word in enumerate(words) if word == flag]


def test_the_room_mounts_only_the_system_its_python_its_tools_and_its_own_room(tmp_path):
    home, tools = tmp_path / "room" / "kim", tmp_path / "room" / ".pseudolink"
    words = sandbox.command(home, tools, Path("/opt/pseudolink-room/bin/python"),
                            hide=(tmp_path, Path(sys.prefix)), tmp_size=2**30)
    read_only = set(_pairs(words, "--ro-bind"))
    assert {"/usr", "/etc", "/sys", str(tools)} <= read_only
    assert _pairs(words, "--bind") == [str(home)]
    assert not any(path in read_only for path in (str(tmp_path), sys.prefix, "/", "/work",
                                                  "/root", "/home", "/var", "/run"))
    assert set(_pairs(words, "--tmpfs")) >= {"/tmp", "/dev/shm", "/run", "/var/tmp"}
    assert {"--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent"} <= set(words)
    # Folders bwrap makes on the way to the room are traverse-only, not 0700 (closed to the
    # researcher's uid) nor listable (which would show whose rooms exist).
    made = [words[i + 3] for i, word in enumerate(words) if word == "--perms"
            and words[i + 2] == "--dir"]
    assert str(home.parent) in made and all(words[words.index(p) - 2] == "0711"
                                            for p in made)


def test_a_hidden_path_under_an_allowed_folder_is_covered(tmp_path):
    python = tmp_path / "opt" / "room" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    secret = tmp_path / "opt" / "room" / "keys"
    words = sandbox.command(tmp_path / "r" / "kim", None, python, hide=(secret, Path("/nowhere")))
    assert _pairs(words, "--tmpfs").count(str(secret)) == 1
    assert "/nowhere" not in words


def test_a_hub_on_the_system_python_does_not_hide_the_system_from_the_room(tmp_path):
    # A hub installed into /usr (or /usr/local) must not cover the folders the room's
    # Python lives in: only paths strictly inside an allowed folder are covered.
    real = Path(os.path.realpath(ROOM_PYTHON)).parent.parent
    words = sandbox.command(tmp_path / "room" / "kim", None, ROOM_PYTHON,
                            hide=(Path("/usr"), Path("/etc"), real, ROOM_PYTHON.parent.parent))
    assert not {"/usr", "/etc", str(real), str(ROOM_PYTHON.parent.parent)} & set(
        _pairs(words, "--tmpfs"))


def test_the_filter_refuses_unix_and_vsock_sockets_and_keeps_ip_and_socketpair():
    if seccomp.unavailable():
        skip_unless_ci(f"seccomp: {seccomp.unavailable()}")
    probe = ("import json, socket\nout = {}\n"
             "for name in ('AF_UNIX', 'AF_VSOCK', 'AF_INET', 'AF_INET6'):\n"
             "    try:\n        socket.socket(getattr(socket, name)).close(); out[name] = 'ok'\n"
             "    except OSError as exc:\n        out[name] = type(exc).__name__\n"
             "a, b = socket.socketpair(); out['socketpair'] = 'ok'\nprint(json.dumps(out))")
    run = subprocess.run([sys.executable, "-I", seccomp.__file__, "--", sys.executable, "-c",
                          probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"AF_UNIX": "PermissionError",
                                      "AF_VSOCK": "PermissionError", "AF_INET": "ok",
                                      "AF_INET6": "ok", "socketpair": "ok"}


def test_the_filter_is_written_for_both_machines_it_names():
    for machine in seccomp.ARCHES:
        code = seccomp.program(machine)
        assert len(code) % 8 == 0 and 0 < len(code) // 8 < 64
    assert "no seccomp filter" in seccomp.unavailable("sparc64")


def test_the_filter_launcher_needs_a_command():
    run = subprocess.run([sys.executable, "-I", seccomp.__file__], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith("error: ")


def test_a_sandboxed_process_has_private_tmp_and_shm_and_no_host_socket():
    if os.geteuid() != 0 or sandbox.unavailable() or not ROOM_PYTHON.exists():
        skip_unless_ci(f"a room sandbox needs root, bwrap and {ROOM_PYTHON}: "
                       f"{sandbox.unavailable()}")
    workspace = Path(tempfile.mkdtemp(prefix="pl-walls-", dir="/tmp"))
    try:
        home = workspace / "room" / "kim"
        home.mkdir(parents=True)
        os.chown(home, 45123, 45123)
        (workspace / "keys").mkdir()
        probe = ("import json, os\nopen('/tmp/x', 'w').write('x')\n"
                 "print(json.dumps({'tmp': sorted(os.listdir('/tmp')),"
                 " 'shm': os.listdir('/dev/shm'), 'run': os.listdir('/run'), 'pg': os.path.exists("
                 "'/var/run/postgresql/.s.PGSQL.5432'), 'keys': os.path.exists("
                 f"{str(workspace / 'keys')!r}), 'uid': os.getuid(), 'cwd': os.getcwd()}}))")
        words = sandbox.command(home, None, ROOM_PYTHON, hide=(workspace,))
        run = subprocess.run([*words, "setpriv", "--reuid=45123", "--regid=45123",
                              "--clear-groups", "--", str(ROOM_PYTHON), "-c", probe],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout)
        assert seen == {"tmp": [workspace.name, "x"], "shm": [], "run": [], "pg": False,
                        "keys": False, "uid": 45123, "cwd": str(home)}
        assert not Path("/tmp/x").exists()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def test_the_hub_refuses_to_start_where_bwrap_cannot_make_the_namespaces(tmp_path,
                                                                          monkeypatch):
    from analysis_env import AnalysisEnvError
    from analysis_env.hub import check_prerequisites, config
    from analysis_env.hub.settings import RoomSettings

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(config.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(config.sandbox, "unavailable",
                        lambda: "bwrap cannot make the room's namespaces here: denied")
    with pytest.raises(AnalysisEnvError, match="cannot isolate its researchers: bwrap"):
        check_prerequisites(RoomSettings.load(tmp_path, "sqlite://"))
