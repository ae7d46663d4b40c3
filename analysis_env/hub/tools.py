"""What the hub gives every room at start: the room-side airlock client and the Lab menu.

The room cannot read the project's environment, so at hub start ``install_room_tools``
copies ``analysis_env.room_side`` (stdlib only, plus a jupyter_server extension) to a
root-owned, world-readable folder under the room root, as ``pseudolink_room``:

    <room_root>/.pseudolink/                    root 0755
        bin/pseudolink                          the room's `pseudolink airlock request|status`
        bin/room-bridge.py                      the room's end of the socket relays (``bridge``)
        bin/room-seccomp.py                     the server's seccomp launcher (``seccomp``)
        lib/pseudolink_room/                    the package (PYTHONPATH of the room)
        etc/jupyter/jupyter_server_config.json  enables the Airlock page (JUPYTER_CONFIG_PATH)

The spawner puts these on the room's PATH, PYTHONPATH and JUPYTER_CONFIG_PATH, and
writes each researcher's JupyterLab menu entry with ``write_lab_menu`` (the page's
URL holds the user's name, so the entry is per room).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from analysis_env import room_side
from analysis_env.hub import bridge, seccomp
from analysis_env.hub.rooms import own

TOOLS_DIR = ".pseudolink"
PACKAGE = "pseudolink_room"
BRIDGE = "room-bridge.py"
SECCOMP = "room-seccomp.py"
MENU_PLUGIN = "@jupyterlab/mainmenu-extension:plugin"
MENU_ID = "jp-mainmenu-airlock"
NOTIFICATIONS = "@jupyterlab/apputils-extension:notification"
#: Lab's menu settings hold one string each, so the entry names both languages,
#: Korean first; the page it opens switches language itself.
MENU_LABEL = "반출 Airlock"
MENU_ITEM = "결과 반출 신청 (Release outputs)"

LAUNCHER = '''#!{python} -I
"""`pseudolink` inside the secure room: files airlock requests (pseudolink_room.client)."""
import sys

sys.path.insert(0, {lib!r})
from pseudolink_room.client import main

sys.exit(main())
'''


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def install_room_tools(room_root: Path, room_python: Path) -> Path:
    """(Re)build ``<room_root>/.pseudolink`` from this checkout; returns its path.

    Built under a temporary name and renamed into place, so a room never sees half a copy.
    """
    room_root = Path(room_root)
    target = room_root / TOOLS_DIR
    build = Path(tempfile.mkdtemp(prefix=f"{TOOLS_DIR}.new.", dir=room_root))
    try:
        source = Path(room_side.__file__).parent
        lib = build / "lib" / PACKAGE
        for module in sorted(source.glob("*.py")):
            _write(lib / module.name, module.read_text(encoding="utf-8"))
        _write(build / "bin" / "pseudolink",
               LAUNCHER.format(python=room_python, lib=str(target / "lib")), 0o755)
        # The bridge runs in the room before the server: it must not depend on the room
        # being able to read the project's checkout.
        _write(build / "bin" / BRIDGE, Path(bridge.__file__).read_text(encoding="utf-8"))
        _write(build / "bin" / SECCOMP, Path(seccomp.__file__).read_text(encoding="utf-8"))
        # A terminal's shell is not a login shell: /etc/profile would reset PATH and lose
        # the room's tools and Python.
        shell = "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh"
        _write(build / "etc" / "jupyter" / "jupyter_server_config.json",
               json.dumps({"ServerApp": {"jpserver_extensions": {PACKAGE: True},
                                         "terminado_settings": {"shell_command": [shell]}}},
                          indent=1))
        for folder, dirs, _ in os.walk(build):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
        os.chmod(build, 0o755)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f"{TOOLS_DIR}.old.", dir=room_root))
            os.replace(target, old / "tools")
        os.replace(build, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return target


def lab_menu(page_url: str) -> dict:
    """Settings overrides adding an *Airlock* menu whose item opens ``page_url``.

    ``help:open`` is JupyterLab's own command (args ``url``, ``text``, ``newBrowserTab``).
    The page opens in a browser tab of its own: Lab's in-app frame is sandboxed without
    same-origin, so the page's form could not carry the session there.
    """
    return {MENU_PLUGIN: {"menus": [{
        "id": MENU_ID, "label": MENU_LABEL, "rank": 1000,
        "items": [{"command": "help:open", "rank": 0,
                   "args": {"url": page_url, "text": MENU_ITEM,
                            "newBrowserTab": True}}]}]},
            # The room has no network: do not offer to fetch news or look for updates.
            NOTIFICATIONS: {"fetchNews": "false", "checkForUpdates": False}}


def write_lab_menu(home: Path, uid: int, page_url: str) -> Path:
    """Write ``home/.lab/labconfig/default_setting_overrides.json``; returns ``home/.lab``.

    ``home/.lab`` goes on the room's JUPYTER_CONFIG_PATH, where jupyterlab_server reads
    ``labconfig/default_setting_overrides.json``. Root-owned and read-only to the room.
    """
    config = Path(home) / ".lab"
    labconfig = config / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    path = labconfig / "default_setting_overrides.json"
    temporary = labconfig / ".default_setting_overrides.json.tmp"
    temporary.write_text(json.dumps(lab_menu(page_url), indent=1), encoding="utf-8")
    own(temporary, 0, uid, 0o440)
    os.replace(temporary, path)
    for folder in (labconfig, config):
        own(folder, 0, uid, 0o550)
    return config
