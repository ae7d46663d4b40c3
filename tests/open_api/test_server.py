"""The API behind a real HTTP server: uvicorn in a thread, and ``pseudolink serve api``."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

import catalog
import open_api
from tests.accounts import officer
from tests.open_api.conftest import DISTRICTS, sha256

ROOT = Path(__file__).resolve().parents[2]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_real_server_answers_over_http_and_logs_no_keys(source, districts):
    server = open_api.server(source)
    access = _Collect()
    logging.getLogger("uvicorn.access").addHandler(access)
    # Binding port 0 ourselves leaves no window for another process to take the port.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        # httpx waits 5 s by default; a loaded CI machine can take longer over a first
        # request (lazy imports, DuckDB), and latency is not what this test is about.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            assert http.get("/api/v1/datasets").json()["count"] == 1
            csv = http.get("/api/v1/datasets/districts.csv", params={"encoding": "cp949"})
            assert csv.content.decode("cp949").splitlines()[1] == "강남구,120,0.25,2025-12-01,true"
            assert http.get("/api/v1/datasets/nope").status_code == 404
            listed = http.get("/api/v1/datasets", params={"serviceKey": "s3cr3t", "q": "house"})
            assert listed.json()["count"] == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        logging.getLogger("uvicorn.access").removeHandler(access)
    assert not thread.is_alive()
    assert any("serviceKey=***&q=house" in line for line in access.lines)
    assert not any("s3cr3t" in line for line in access.lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_cli_serve_api_serves_the_workspace_catalog(tmp_path):
    workdir = tmp_path / "ws"
    env = {**os.environ, "PSEUDOLINK_PASSPHRASE": "unused"}
    env.pop("PSEUDOLINK_DATABASE_URL", None)
    run = [sys.executable, "-m", "pseudolink"]
    workdir.mkdir()
    url = f"sqlite:///{(workdir / 'catalog.db').resolve()}"  # where the workspace keeps it
    catalog.init_catalog(url)
    artifact = tmp_path / "by-district.parquet"
    pq.write_table(DISTRICTS, artifact)
    with catalog.Catalog.connect(url) as cat:
        officer(cat, "officer")
        cat.register_dataset("combined", title="Combined", path=str(artifact),
                             columns={"sigungu": "quasi_identifier"}, project_id=None,
                             lineage={}, actor="officer")
        cat.record_release("by-district", dataset_id="combined", form="dp_aggregate",
                           title="Households by district", artifact=str(artifact),
                           checksum=sha256(artifact), parameters={"epsilon": 1.0},
                           actor="officer")
    port = _free_port()
    process = subprocess.Popen(
        [*run, "serve", "api", "--workdir", str(workdir), "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/datasets/by-district")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "pseudolink serve api did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["parameters"] == {"epsilon": 1.0}
    finally:
        process.terminate()
        process.wait(timeout=10)
