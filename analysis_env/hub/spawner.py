"""A LocalProcessSpawner that gives each researcher a room and no network.

The server runs as the researcher's own uid (never root), in namespaces of its own
made by bubblewrap (``sandbox``: a mount namespace that holds only the system, the
room's Python and tools and this researcher's room, with private ``/tmp`` and
``/dev/shm``; pid, ipc, uts, and a network namespace with only loopback), under the
seccomp filter of ``seccomp`` (no Unix sockets), with all capabilities dropped,
within the memory and CPU limits of ``limits`` (``mem_limit``, ``cpu_limit``). The
hub talks to it, and it to the hub's API, only through the Unix sockets of
``bridge``. The room-side tools (``tools``) are on its PATH: ``pseudolink airlock
request`` and the Airlock page with its JupyterLab menu.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import random_port
from tornado import web
from traitlets import Float, Integer, Unicode

from analysis_env.hub import access, bridge, limits, rooms, sandbox, seccomp, tools

BRIDGE = Path(bridge.__file__).resolve()
SECCOMP = Path(seccomp.__file__).resolve()


class RoomSpawner(LocalProcessSpawner):
    database_url = Unicode(config=True, help="The catalog's database URL.")
    room_root = Unicode(config=True, help="Where researchers' rooms are made.")
    workspace = Unicode("", config=True, help="The workspace root that the catalog's "
                        "dataset paths are relative to.")
    hub_dir = Unicode(config=True, help="The hub's state directory (uid table).")
    room_python = Unicode("/opt/pseudolink-room/bin/python", config=True)
    uid_base = Integer(20000, config=True)
    seats = Integer(19, config=True, help="Servers that may run at once.")
    seat_wait = Float(0.0, config=True)
    tools_dir = Unicode("", config=True, help="The room-side tools (see ``tools``).")

    #: Users with a running room in this hub process, for the seat count.
    _taken: ClassVar[set[str]] = set()

    _wrapped = False

    def get_args(self):
        # While wrapped, LocalProcessSpawner.start must not append them: ``inner`` has them.
        return [] if self._wrapped else super().get_args()

    def make_preexec_fn(self, name):
        # Stay root until ``setpriv`` in the command: the namespace needs CAP_SYS_ADMIN.
        return None

    def user_env(self, env):
        home = Path(self.room_root) / self.user.name
        for leak in ("VIRTUAL_ENV", "PYTHONPATH", "PSEUDOLINK_DATABASE_URL",
                     "PSEUDOLINK_PASSPHRASE", "CONFIGPROXY_AUTH_TOKEN", "JUPYTER_PATH",
                     "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH"):
            env.pop(leak, None)
        path = f"{Path(self.room_python).parent}:/usr/local/bin:/usr/bin:/bin"
        env.update(USER=self.user.name, HOME=str(home / "home"),
                   JUPYTER_RUNTIME_DIR=str(home / "home" / ".runtime"),
                   PSEUDOLINK_OUTPUTS=str(home / "outputs"), PATH=path)
        if self.tools_dir:
            toolbox = Path(self.tools_dir)
            env.update(PATH=f"{toolbox / 'bin'}:{path}", PYTHONPATH=str(toolbox / "lib"),
                       JUPYTER_CONFIG_PATH=f"{home / '.lab'}:{toolbox / 'etc' / 'jupyter'}")
        env.update(getattr(self, "_limit_env", {}))
        env.update(getattr(self, "_controls_env", {}))
        return env

    async def start(self):
        name = self.user.name
        if name not in self._taken and len(self._taken) >= self.seats:
            raise web.HTTPError(429, f"All {self.seats} seats of the secure room are taken; "
                                     "your server will start when a seat frees (try again in "
                                     "a few minutes).")
        extracts = await asyncio.to_thread(access.approved_extracts, self.database_url, name,
                                           self.workspace or None)
        if not extracts:
            raise web.HTTPError(403, "You have no active secure-room approval.")
        uid = rooms.uid_for(Path(self.hub_dir), self.uid_base, name)
        home = await asyncio.to_thread(rooms.prepare_room, Path(self.room_root), name, uid,
                                       extracts)
        self.notebook_dir = str(home)
        await asyncio.to_thread(tools.write_lab_menu, home, uid, f"{self.user.url}airlock")
        wanted = limits.Limits(memory=int(self.mem_limit or 0) or None,
                               cpus=float(self.cpu_limit or 0) or None)
        self._limits = await asyncio.to_thread(
            limits.apply, limits.scope_of(self.room_root), name, wanted)
        self._limit_env = self._limits.environment(wanted)
        self.log.info("limits of %s's room: %s", name, self._limit_env["PSEUDOLINK_LIMITS"])
        self.port = self.port or random_port()
        run = home / ".run"
        hub_sock, server_sock = str(run / "hub.sock"), str(run / "server.sock")
        api = urlparse(self.hub.api_url)
        self._bridges = [
            await bridge.unix_to_tcp(hub_sock, api.hostname, api.port),
            await bridge.tcp_to_unix("127.0.0.1", self.port, server_sock),
        ]
        os.chown(hub_sock, 0, uid)
        toolbox = Path(self.tools_dir) / "bin" if self.tools_dir else BRIDGE.parent
        relay = toolbox / tools.BRIDGE if self.tools_dir else BRIDGE
        server = [*self.cmd, *self.get_args()]
        unfiltered = seccomp.unavailable()
        if unfiltered is None:
            guard = toolbox / tools.SECCOMP if self.tools_dir else SECCOMP
            server = [self.room_python, "-I", str(guard), "--", *server]
        else:
            self.log.warning("%s's room starts without its seccomp filter (%s): only its "
                             "mount namespace keeps the host's Unix sockets out", name,
                             unfiltered)
        self._controls_env = {"PSEUDOLINK_ROOM_CONTROLS": " ".join(
            ["mount", "pid", "ipc", "uts", "net",
             "seccomp" if unfiltered is None else "no-seccomp"])}
        inner = [self.room_python, str(relay), "--hub-sock", hub_sock, "--hub-port",
                 str(api.port), "--server-sock", server_sock, "--server-port", str(self.port),
                 "--", *server]
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        # Hidden even where they lie under an allowed folder: the workspace (keys, the
        # catalog, other rooms) and the hub's own environment.
        walls = sandbox.command(home, toolbox.parent if self.tools_dir else toolbox,
                                Path(self.room_python),
                                hide=(Path(self.hub_dir).parent, Path(sys.prefix)),
                                tmp_size=wanted.memory)
        # cgroups are entered outside the sandbox, whose /sys is read-only.
        script = (f"{self._limits.enter()} && exec "
                  + shlex.join([*walls, *self._limits.prefix, *drop, *inner]))
        self._taken.add(name)
        # Start in the room, not in the hub's own (closed) folder.
        self.popen_kwargs = {**self.popen_kwargs, "cwd": str(home)}
        saved, self.cmd = self.cmd, ["/bin/sh", "-c", script]
        self._wrapped = True
        try:
            ip, port = await super().start()
        except BaseException:
            await self._release()
            raise
        finally:
            self.cmd, self._wrapped = saved, False
        await asyncio.to_thread(access.room_started, self.database_url, name,
                                {k: v[1] for k, v in extracts.items()})
        return ip, port

    async def stop(self, now=False):
        started = self.user.name in self._taken
        try:
            await super().stop(now=now)
        finally:
            await self._release()
        if started:
            try:
                await asyncio.to_thread(access.room_stopped, self.database_url,
                                        self.user.name, "server stopped")
            except Exception as exc:
                # The stop already happened and cannot be undone; an unrecorded stop is
                # logged for the operator rather than reported to the hub as a failed stop.
                self.log.error("the stop of %s's room is not in the audit log: %s",
                               self.user.name, exc)

    async def poll(self):
        status = await super().poll()
        if status is not None and self.user.name in self._taken:
            await self._release()
        return status

    async def _release(self) -> None:
        self._taken.discard(self.user.name)
        for server in getattr(self, "_bridges", []):
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self._bridges = []
        applied = getattr(self, "_limits", None)
        if applied is not None:
            self._limits = None
            await asyncio.to_thread(applied.release)

