"""The secure room end to end: a real JupyterHub and proxy on loopback, a researcher's
server in its own network namespace, a kernel that can read the approved extract and
nothing else, and a revocation that stops it all."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import catalog
from tests.conftest import skip_unless_ci

PASSWORD = "correct horse battery staple"
ROOM_PYTHON = Path(os.environ.get("PSEUDOLINK_ROOM_PYTHON", "/opt/pseudolink-room/bin/python"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requirements() -> None:
    missing = [tool for tool in ("configurable-http-proxy", "unshare", "setpriv", "ip")
               if shutil.which(tool) is None]
    try:
        import jupyterhub  # noqa: F401
        import websocket  # noqa: F401
    except ImportError as exc:
        missing.append(str(exc.name))
    if not ROOM_PYTHON.exists():
        missing.append(str(ROOM_PYTHON))
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    if missing:
        skip_unless_ci(f"the secure room needs {', '.join(missing)}")


class Room:
    """A running hub over a fresh workspace with one approved researcher."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url_db = f"sqlite:///{root / 'catalog.db'}"
        self.port, self.hub_port, self.proxy_port = _free_port(), _free_port(), _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_token = uuid.uuid4().hex
        self.secret = root / "data" / "combined.parquet"
        self.secret.parent.mkdir(parents=True)
        pq.write_table(pa.table({"link_id": ["a", "b", "c"], "ssis__rrn_hash": ["x", "y", "z"],
                                 "ssis__sido": ["서울", "서울", "부산"],
                                 "ssis__income": [100, 200, 300]}), self.secret)
        catalog.init_catalog(self.url_db)
        with catalog.Catalog.connect(self.url_db) as cat:
            for user, role in (("root", "admin"), ("kim", "researcher"),
                               ("po1", "privacy_officer")):
                cat.record_user(user, role=role, actor="root")
            cat.set_password("kim", PASSWORD, actor="root")
            cat.register_dataset("housing", title="Combined", path=str(self.secret),
                                 columns={"link_id": "other", "ssis__rrn_hash": "other",
                                          "ssis__sido": "quasi_identifier",
                                          "ssis__income": "sensitive"},
                                 project_id=None, lineage={}, actor="root")
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

    def start(self) -> None:
        from analysis_env.hub import RoomSettings, write_config

        settings = RoomSettings.load(self.root, self.url_db, port=self.port,
                                     hub_port=self.hub_port, proxy_api_port=self.proxy_port,
                                     revocation_interval=2.0, room_python=ROOM_PYTHON,
                                     uid_base=40000 + os.getpid() % 10000)
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

    def wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if ok():
                return
            time.sleep(0.5)
        tail = (self.root / "hub.log").read_text(errors="replace")[-4000:]
        pytest.fail(f"timed out waiting for {what}; hub log:\n{tail}")

    def admin(self, path: str):
        return self.get(f"/hub/api{path}", headers={"Authorization": f"token {self.admin_token}"})

    def login(self) -> str | None:
        """Log in with the form (which creates the hub user), then get a token by REST."""
        import httpx

        with httpx.Client(base_url=self.base, timeout=20) as client:
            client.get("/hub/login")
            xsrf = client.cookies.get("_xsrf", "")
            client.post("/hub/login", data={"username": "kim", "password": PASSWORD,
                                            "_xsrf": xsrf})
        response = httpx.post(f"{self.base}/hub/api/users/kim/tokens", timeout=20,
                              json={"auth": {"username": "kim", "password": PASSWORD},
                                    "note": "e2e"})
        if response.status_code == 403:
            return None
        response.raise_for_status()
        return response.json()["token"]


@pytest.fixture
def room() -> Iterator[Room]:
    _requirements()
    # Not pytest's tmp_path: its 0700 parents would keep the researcher's uid out of the room.
    root = Path(tempfile.mkdtemp(prefix="pl-room-", dir="/tmp"))
    try:
        room = Room(root)
        room.start()
        try:
            yield room
        finally:
            room.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_in_kernel(base: str, token: str, code: str) -> str:
    import httpx
    import websocket

    headers = {"Authorization": f"token {token}"}
    kernel = httpx.post(f"{base}/user/kim/api/kernels", headers=headers, json={}, timeout=60)
    kernel.raise_for_status()
    ws = websocket.create_connection(
        f"{base.replace('http', 'ws')}/user/kim/api/kernels/{kernel.json()['id']}/channels",
        header=[f"Authorization: token {token}"], timeout=60)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "kim", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False}}))
    output = []
    while True:
        message = json.loads(ws.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if kind == "stream":
            output.append(message["content"]["text"])
        elif kind == "error":
            output.append("\n".join(message["content"]["traceback"]))
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            break
    ws.close()
    return "".join(output)


PROBE = """
import json, socket
import pandas as pd
result = {}
frame = pd.read_parquet(ROOM + "/data/housing.parquet")
result["columns"] = sorted(frame.columns)
def attempt(label, action):
    try:
        action()
        result[label] = "ok"
    except Exception as exc:
        result[label] = type(exc).__name__
attempt("read_source", lambda: open(SOURCE, "rb").read(1))
attempt("read_catalog", lambda: open(CATALOG, "rb").read(1))
attempt("list_workspace", lambda: __import__("os").listdir(WORKSPACE))
attempt("write_extract", lambda: open(ROOM + "/data/housing.parquet", "ab").write(b"x"))
attempt("new_file_in_data", lambda: open(ROOM + "/data/new.csv", "w").write("x"))
attempt("write_outputs", lambda: open(ROOM + "/outputs/table.csv", "w").write("a,b\\n"))
attempt("connect_listener", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3))
attempt("connect_outside", lambda: socket.create_connection((HOST_IP, PORT), timeout=3))
print(json.dumps(result))
"""


def _host_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def test_researcher_reads_only_the_approved_extract_and_leaves_only_by_revocation(room):
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    port = listener.getsockname()[1]

    token = room.login()
    assert token, "an approved researcher must be able to log in"
    headers = {"Authorization": f"token {token}"}
    import httpx

    started = httpx.post(f"{room.base}/hub/api/users/kim/server", headers=headers, timeout=60)
    assert started.status_code in (201, 202), started.text
    room.wait(lambda: room.admin("/users/kim").json().get("servers", {}).get("", {})
              .get("ready"), 90, "kim's server")

    code = (f"ROOM = {str(room.root / 'room' / 'kim')!r}\n"
            f"SOURCE = {str(room.secret)!r}\nCATALOG = {str(room.root / 'catalog.db')!r}\n"
            f"WORKSPACE = {str(room.root)!r}\nPORT = {port}\nHOST_IP = {_host_ip()!r}\n"
            + PROBE)
    output = _run_in_kernel(room.base, token, code)
    result = json.loads(output.strip().splitlines()[-1])
    listener.close()
    assert result["columns"] == ["ssis__income", "ssis__sido"]
    assert result["read_source"] == "PermissionError"
    assert result["read_catalog"] == "PermissionError"
    assert result["list_workspace"] == "PermissionError"
    assert result["write_extract"] == "PermissionError"
    assert result["new_file_in_data"] == "PermissionError"
    assert result["write_outputs"] == "ok"
    assert result["connect_listener"] in ("ConnectionRefusedError", "TimeoutError")
    assert result["connect_outside"] in ("OSError", "ConnectionRefusedError", "TimeoutError")

    with catalog.Catalog.connect(room.url_db) as cat:
        cat.revoke_request("r1", reason="end of project", actor="po1")
    revoked = time.monotonic()
    room.wait(lambda: not room.admin("/users/kim").json().get("servers"), 60,
              "the revoked researcher's server to stop")
    assert time.monotonic() - revoked < 60
    assert room.login() is None
    with catalog.Catalog.connect(room.url_db) as cat:
        actions = [(e["actor"], e["action"]) for e in cat.audit_entries() if e["target"] == "kim"]
    assert ("kim", "room.login") in actions
    assert ("system:room", "room.start") in actions
    assert ("system:room", "room.stop") in actions
    assert ("kim", "room.login_refused") in actions
