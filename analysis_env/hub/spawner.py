"""A LocalProcessSpawner that gives each researcher a room and no network.

The server runs as the researcher's own uid (never root), in a network namespace
with only loopback (``unshare --net``), with all capabilities dropped. The hub talks
to it, and it to the hub's API, only through the Unix sockets of ``bridge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import random_port
from tornado import web
from traitlets import Float, Integer, Unicode

from analysis_env.hub import access, bridge, rooms

BRIDGE = Path(bridge.__file__).resolve()


class RoomSpawner(LocalProcessSpawner):
    database_url = Unicode(config=True, help="The catalog's database URL.")
    room_root = Unicode(config=True, help="Where researchers' rooms are made.")
    hub_dir = Unicode(config=True, help="The hub's state directory (uid table).")
    room_python = Unicode("/opt/pseudolink-room/bin/python", config=True)
    uid_base = Integer(20000, config=True)
    seats = Integer(19, config=True, help="Servers that may run at once.")
    seat_wait = Float(0.0, config=True)

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
        env.update(USER=self.user.name, HOME=str(home / "home"),
                   JUPYTER_RUNTIME_DIR=str(home / "home" / ".runtime"),
                   PATH=f"{Path(self.room_python).parent}:/usr/local/bin:/usr/bin:/bin")
        for leak in ("VIRTUAL_ENV", "PYTHONPATH", "PSEUDOLINK_DATABASE_URL",
                     "PSEUDOLINK_PASSPHRASE", "CONFIGPROXY_AUTH_TOKEN"):
            env.pop(leak, None)
        return env

    async def start(self):
        name = self.user.name
        if name not in self._taken and len(self._taken) >= self.seats:
            raise web.HTTPError(429, f"All {self.seats} seats of the secure room are taken; "
                                     "your server will start when a seat frees (try again in "
                                     "a few minutes).")
        extracts = await asyncio.to_thread(access.approved_extracts, self.database_url, name)
        if not extracts:
            raise web.HTTPError(403, "You have no active secure-room approval.")
        uid = rooms.uid_for(Path(self.hub_dir), self.uid_base, name)
        home = await asyncio.to_thread(rooms.prepare_room, Path(self.room_root), name, uid,
                                       extracts)
        self.notebook_dir = str(home)
        self.port = self.port or random_port()
        run = home / ".run"
        hub_sock, server_sock = str(run / "hub.sock"), str(run / "server.sock")
        api = urlparse(self.hub.api_url)
        self._bridges = [
            await bridge.unix_to_tcp(hub_sock, api.hostname, api.port),
            await bridge.tcp_to_unix("127.0.0.1", self.port, server_sock),
        ]
        os.chown(hub_sock, 0, uid)
        inner = [self.room_python, str(BRIDGE), "--hub-sock", hub_sock, "--hub-port",
                 str(api.port), "--server-sock", server_sock, "--server-port", str(self.port),
                 "--", *self.cmd, *self.get_args()]
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        script = "ip link set lo up && exec " + shlex.join([*drop, *inner])
        self._taken.add(name)
        saved, self.cmd = self.cmd, ["unshare", "--net", "--", "/bin/sh", "-c", script]
        self._wrapped = True
        try:
            ip, port = await super().start()
        except BaseException:
            await self._release()
            raise
        finally:
            self.cmd, self._wrapped = saved, False
        await asyncio.to_thread(access.audit, self.database_url, "system:room", "room.start",
                                name, {"datasets": {k: v[1] for k, v in extracts.items()}})
        return ip, port

    async def stop(self, now=False):
        try:
            await super().stop(now=now)
        finally:
            await self._release()

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

