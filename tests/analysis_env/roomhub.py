"""A real secure room for end-to-end tests: JupyterHub, the proxy, a researcher's server.

``Room`` makes a fresh workspace with one approved researcher (``kim``) and one output
checker (``po1``), writes the hub's config as ``pseudolink serve hub`` does and runs
JupyterHub; ``Kernel`` and ``Terminal`` drive the researcher's server as a browser
would, over HTTP and websockets through the proxy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import catalog
from tests.accounts import admin
from tests.conftest import skip_unless_ci

PASSWORD = "correct horse battery staple"
ROOM_PYTHON = Path(os.environ.get("PSEUDOLINK_ROOM_PYTHON", "/opt/pseudolink-room/bin/python"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requirements() -> None:
    """Skip (or, under CI=true, fail) when the host cannot run a real room."""
    missing = [tool for tool in ("configurable-http-proxy", "bwrap", "setpriv", "prlimit")
               if shutil.which(tool) is None]
    try:
        import jupyterhub  # noqa: F401
        import websocket  # noqa: F401
    except ImportError as exc:
        missing.append(str(exc.name))
    if not ROOM_PYTHON.exists():
        missing.append(str(ROOM_PYTHON))
    elif subprocess.run([str(ROOM_PYTHON), "-c", "import jupyterlab"],
                        capture_output=True).returncode != 0:
        missing.append(f"jupyterlab in {ROOM_PYTHON.parent.parent} (make room)")
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    if missing:
        skip_unless_ci(f"the secure room needs {', '.join(missing)}")


class Room:
    """A running hub over a fresh workspace with one approved researcher."""

    def __init__(self, root: Path, **settings: Any) -> None:
        self.root = root
        self.settings = settings
        self.url_db = f"sqlite:///{root / 'catalog.db'}"
        self.port, self.hub_port, self.proxy_port = free_port(), free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_token = uuid.uuid4().hex
        self.secret = root / "data" / "combined.parquet"
        self.secret.parent.mkdir(parents=True)
        self._tokens: dict[str, str] = {}
        pq.write_table(pa.table({"link_id": ["a", "b", "c"], "ssis__rrn_hash": ["x", "y", "z"],
                                 "ssis__sido": ["서울", "서울", "부산"],
                                 "ssis__income": [100, 200, 300]}), self.secret)
        catalog.init_catalog(self.url_db)
        with catalog.Catalog.connect(self.url_db) as cat:
            admin(cat)  # the bootstrap administrator records everyone else
            for user, role in (("kim", "researcher"), ("po1", "privacy_officer")):
                cat.record_user(user, role=role, actor="root")
            cat.set_password("kim", PASSWORD, actor="root")
            # The linkage project the extract comes from: room starts and stops are its stages.
            cat.record_project("housing-project", purpose="scientific_research", mode="exact",
                               spec={"project": {"id": "housing-project"}}, actor="root")
            cat.register_dataset("housing", title="Combined", path=str(self.secret),
                                 columns={"link_id": "other", "ssis__rrn_hash": "other",
                                          "ssis__sido": "quasi_identifier",
                                          "ssis__income": "sensitive"},
                                 project_id="housing-project", lineage={}, actor="root")
            cat.create_request("r1", dataset_id="housing", columns=["ssis__sido", "ssis__income"],
                               release_form="secure_room", purpose="scientific_research",
                               lawful_basis="PIPA 28-2", researchers=["kim"],
                               setting="secure room", outputs="airlock",
                               ends_at=datetime.now(UTC) + timedelta(days=1), actor="kim")
            cat.submit_request("r1", actor="kim")
            cat.start_review("r1", actor="po1")
            cat.compute_risk_report("r1", actor="po1")
            cat.decide_request("r1", "approve", reason="ok", actor="po1")
            cat.activate_request("r1", actor="po1")

    @property
    def home(self) -> Path:
        return self.root / "room" / "kim"

    @property
    def _token(self) -> str | None:
        return self._tokens.get("kim")

    def add_researcher(self, user: str, columns: list[str]) -> None:
        """Another researcher with a password and an active approval for ``columns``."""
        with catalog.Catalog.connect(self.url_db) as cat:
            cat.record_user(user, role="researcher", actor="root")
            cat.set_password(user, PASSWORD, actor="root")
            request = f"r-{user}-{uuid.uuid4().hex[:6]}"
            cat.create_request(request, dataset_id="housing", columns=columns,
                               release_form="secure_room", purpose="scientific_research",
                               lawful_basis="PIPA 28-2", researchers=[user],
                               setting="secure room", outputs="airlock",
                               ends_at=datetime.now(UTC) + timedelta(days=1), actor=user)
            cat.submit_request(request, actor=user)
            cat.start_review(request, actor="po1")
            cat.compute_risk_report(request, actor="po1")
            cat.decide_request(request, "approve", reason="ok", actor="po1")
            cat.activate_request(request, actor="po1")

    def start(self) -> None:
        from analysis_env.hub import RoomSettings, write_config

        settings = RoomSettings.load(self.root, self.url_db, port=self.port,
                                     hub_port=self.hub_port, proxy_api_port=self.proxy_port,
                                     revocation_interval=2.0, room_python=ROOM_PYTHON,
                                     uid_base=40000 + os.getpid() % 10000, **self.settings)
        config = write_config(settings)
        with open(config, "a", encoding="utf-8") as handle:
            handle.write(
                f"c.JupyterHub.services.append({{'name': 'e2e', 'api_token': "
                f"{self.admin_token!r}}})\n"
                "c.JupyterHub.load_roles.append({'name': 'e2e', 'services': ['e2e'], "
                "'scopes': ['list:users', 'read:users', 'read:servers']})\n")
        env = {**os.environ, "PSEUDOLINK_DATABASE_URL": self.url_db,
               "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.log = open(self.root / "hub.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)],
                                        cwd=settings.hub_dir, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.wait(lambda: self.get("/hub/api/").status_code == 200, 60, "the hub to start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def get(self, path: str, **kw):
        import httpx

        try:
            return httpx.get(self.base + path, timeout=10, **kw)
        except httpx.HTTPError:
            return httpx.Response(599)

    def hub_log(self) -> str:
        return (self.root / "hub.log").read_text(errors="replace")

    def wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ok():
                return
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}; hub log:\n{self.hub_log()[-4000:]}")

    def admin(self, path: str):
        return self.get(f"/hub/api{path}", headers={"Authorization": f"token {self.admin_token}"})

    def login(self, user: str = "kim") -> str | None:
        """Log in with the form (which creates the hub user), then get a token by REST."""
        import httpx

        with httpx.Client(base_url=self.base, timeout=20) as client:
            client.get("/hub/login")
            xsrf = client.cookies.get("_xsrf", "")
            client.post("/hub/login", data={"username": user, "password": PASSWORD,
                                            "_xsrf": xsrf})
        response = httpx.post(f"{self.base}/hub/api/users/{user}/tokens", timeout=20,
                              json={"auth": {"username": user, "password": PASSWORD},
                                    "note": "e2e"})
        if response.status_code == 403:
            return None
        response.raise_for_status()
        return response.json()["token"]

    def server(self, user: str = "kim") -> str:
        """``user``'s token, with their server running (logged in and started once)."""
        import httpx

        if user not in self._tokens:
            token = self.login(user)
            assert token, "an approved researcher must be able to log in"
            self._tokens[user] = token
        if not self.admin(f"/users/{user}").json().get("servers", {}).get("", {}).get("ready"):
            started = httpx.post(f"{self.base}/hub/api/users/{user}/server", timeout=60,
                                 headers=self.auth(user))
            assert started.status_code in (201, 202, 400), started.text
            self.wait(lambda: self.admin(f"/users/{user}").json().get("servers", {})
                      .get("", {}).get("ready"), 90, f"{user}'s server")
        return self._tokens[user]

    def auth(self, user: str = "kim") -> dict[str, str]:
        return {"Authorization": f"token {self._tokens[user]}"}

    @property
    def headers(self) -> dict[str, str]:
        return self.auth("kim")

    def user_api(self, method: str, path: str, headers: dict | None = None,
                 user: str = "kim", **kw):
        import httpx

        return httpx.request(method, f"{self.base}/user/{user}/{path.lstrip('/')}",
                             headers={**self.auth(user), **(headers or {})}, timeout=60, **kw)

    def airlock_requests(self) -> list:
        """Every airlock request, as an output checker sees them outside the room."""
        from analysis_env import Airlock

        with catalog.Catalog.connect(self.url_db) as cat:
            return Airlock(self.root / "airlock", cat).list(actor="po1")

    def audit(self, action: str) -> list[dict]:
        with catalog.Catalog.connect(self.url_db) as cat:
            return [e for e in cat.audit_entries() if e["action"] == action]


class Kernel:
    """A kernel of kim's server, run over its websocket as JupyterLab runs one."""

    def __init__(self, room: Room, user: str = "kim") -> None:
        import websocket

        self.room, self.user = room, user
        created = room.user_api("POST", "api/kernels", json={}, user=user)
        created.raise_for_status()
        self.id = created.json()["id"]
        self.ws = websocket.create_connection(
            f"{room.base.replace('http', 'ws')}/user/{user}/api/kernels/{self.id}/channels",
            header=[f"Authorization: token {room._tokens[user]}"], timeout=120)

    def run(self, code: str, timeout: float = 120) -> tuple[str, str]:
        """Execute ``code``: (output, "ok" | "error" | "died")."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        output: list[str] = []
        outcome = "ok"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            kind, content = message["msg_type"], message.get("content", {})
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                return "".join(output), "died"
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                outcome = "error"
                output.append(f"{content['ename']}: {content['evalue']}\n")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(output), outcome
        raise AssertionError(f"the kernel did not answer in {timeout} s: {''.join(output)}")

    def close(self) -> None:
        self.ws.close()
        self.room.user_api("DELETE", f"api/kernels/{self.id}", user=self.user)


class Terminal:
    """A terminal of kim's server, as JupyterLab's terminal tab uses it."""

    def __init__(self, room: Room) -> None:
        import websocket

        self.room = room
        created = room.user_api("POST", "api/terminals", json={})
        created.raise_for_status()
        self.name = created.json()["name"]
        self.ws = websocket.create_connection(
            f"{room.base.replace('http', 'ws')}/user/kim/terminals/websocket/{self.name}",
            header=[f"Authorization: token {room._token}"], timeout=5)
        self.screen = ""

    def type(self, line: str) -> None:
        self.ws.send(json.dumps(["stdin", line + "\r"]))

    def expect(self, pattern: str, timeout: float = 60) -> re.Match:
        """Read the screen (escape codes removed) until ``pattern`` shows."""
        import websocket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen)
            if found:
                return found
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message[0] == "stdout":
                self.screen += ANSI.sub("", message[1])
        raise AssertionError(f"{pattern!r} did not show in the terminal:\n{self.screen}")

    def close(self) -> None:
        self.ws.close()
        self.room.user_api("DELETE", f"api/terminals/{self.name}")
