"""Download slots come back however a download ends, so a burst never locks downloads out.

The bound on concurrent downloads (429 beyond it) must not turn into a permanent refusal:
clients that disconnect before or during a download, streams dropped unread, and streams
read to the end all give their slot back. A download made recently is sent from memory.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import open_api
from open_api import create_app, heavy
from open_api.errors import ApiError
from tests.open_api.conftest import DISTRICTS, MemorySource, write_release


def _free_slots() -> int:
    taken = []
    try:
        while True:
            taken.append(heavy.download_slot())
    except ApiError:
        pass
    for release in taken:
        release()
    return len(taken)


def test_streams_dropped_unread_give_their_slots_back():
    streams = [heavy.bounded(iter([b"a", b"b"])) for _ in range(heavy.MAX_DOWNLOADS)]
    with pytest.raises(ApiError) as refused:
        heavy.bounded(iter([b"c"]))
    assert refused.value.code == "rate_limited"
    del streams
    gc.collect()
    assert _free_slots() == heavy.MAX_DOWNLOADS


def test_streams_read_to_the_end_or_abandoned_midway_give_their_slots_back():
    async def read(stream: heavy.BoundedStream, chunks: int) -> list[bytes]:
        out = []
        body = stream.__aiter__()
        for _ in range(chunks):
            out.append(await body.__anext__())
        await body.aclose()  # what the event loop does to a response whose client left
        return out

    whole = heavy.bounded(iter([b"a", b"b"]))
    assert list(whole) == [b"a", b"b"]
    assert asyncio.run(read(heavy.bounded(iter([b"a", b"b", b"c"])), 1)) == [b"a"]
    assert _free_slots() == heavy.MAX_DOWNLOADS


def test_a_burst_of_clients_that_hang_up_leaves_downloads_available(tmp_path):
    rows = 20_000  # a CSV larger than the socket buffers: the server is mid-stream
    table = pa.table({"n": pa.array(range(rows), pa.int64()),
                      "label": pa.array([f"row {i} of the table" for i in range(rows)])})
    source = MemorySource()
    source.add(write_release(tmp_path / "big.parquet", table))
    server = open_api.server(source, access_log=False)
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
        request = (f"GET /api/v1/datasets/big.csv HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "\r\n").encode()
        for burst in range(3):
            clients = []
            for _ in range(heavy.MAX_DOWNLOADS * 2):
                client = socket.create_connection(("127.0.0.1", port))
                client.sendall(request)
                clients.append(client)
            if burst:  # read a little of each answer first: hang up mid-stream
                for client in clients:
                    client.recv(1024)
            for client in clients:
                client.close()
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while (answer := http.get("/api/v1/datasets/big.csv")).status_code == 429:
                assert time.monotonic() < deadline, "downloads stay refused after the burst"
                time.sleep(0.2)
            assert answer.status_code == 200
            assert len(answer.text.splitlines()) == rows + 1
            # Every slot is back, not just one.
            parallel = [http.get("/api/v1/datasets/big.csv").status_code for _ in range(3)]
            assert parallel == [200, 200, 200]
        deadline = time.monotonic() + 20
        while _free_slots() != heavy.MAX_DOWNLOADS:
            assert time.monotonic() < deadline, f"{_free_slots()} slots free after the burst"
            time.sleep(0.2)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_a_download_made_recently_is_sent_again_without_a_slot(tmp_path):
    source = MemorySource()
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS))
    client = TestClient(create_app(source))
    first = client.get("/api/v1/datasets/by-district.csv")
    assert first.status_code == 200
    taken = [heavy.download_slot() for _ in range(heavy.MAX_DOWNLOADS)]
    try:
        again = client.get("/api/v1/datasets/by-district.csv")
        assert again.status_code == 200
        assert again.content == first.content
        # A download not made before still needs a slot.
        assert client.get("/api/v1/datasets/by-district.csv",
                          params={"bom": "true"}).status_code == 429
    finally:
        for release in taken:
            release()


def test_a_changed_file_is_never_answered_from_memory(tmp_path):
    source = MemorySource()
    path = tmp_path / "by-district.parquet"
    source.add(write_release(path, DISTRICTS))
    client = TestClient(create_app(source))
    assert "강남구" in client.get("/api/v1/datasets/by-district.csv").text
    changed = DISTRICTS.set_column(0, "sigungu", pa.array(["가", "나", "다", "라"]))
    source.add(write_release(path, changed))
    body = client.get("/api/v1/datasets/by-district.csv").text
    assert "강남구" not in body and "가" in body
