"""The room's parts on their own: settings, the room on disk, the bridge, login, revoker."""

from __future__ import annotations

import asyncio
import json
import os
import stat

import httpx
import pyarrow.parquet as pq
import pytest

from analysis_env import AnalysisEnvError
from analysis_env.hub import DEFAULT_SEATS, RoomSettings, access, bridge, revoker, rooms
from tests.analysis_env.conftest import PASSWORD, grant


def test_room_settings_come_from_the_workspace_with_19_seats_by_default(tmp_path):
    assert RoomSettings.load(tmp_path, "sqlite://").seats == DEFAULT_SEATS == 19
    (tmp_path / "settings.toml").write_text("[room]\nseats = 4\nport = 9000\n")
    settings = RoomSettings.load(tmp_path, "sqlite://", port=9100)
    assert (settings.seats, settings.port, settings.ip) == (4, 9100, "127.0.0.1")
    assert settings.room_root == tmp_path.resolve() / "room"
    (tmp_path / "settings.toml").write_text("[room]\nseets = 4\n")
    with pytest.raises(AnalysisEnvError, match="seets"):
        RoomSettings.load(tmp_path, "sqlite://")
    with pytest.raises(AnalysisEnvError, match="within a minute"):
        RoomSettings.load(tmp_path.parent, "sqlite://", revocation_interval=120)


def test_room_holds_only_the_approved_columns_read_only(tmp_path, extract):
    home = rooms.prepare_room(tmp_path / "room", "kim", 40123,
                              {"housing-combined": (extract, ["ssis__sido", "ssis__income"])})
    copied = home / "data" / "housing-combined.parquet"
    assert pq.read_table(copied).column_names == ["ssis__sido", "ssis__income"]
    assert stat.S_IMODE(copied.stat().st_mode) == 0o440
    assert stat.S_IMODE((home / "data").stat().st_mode) == 0o550
    assert (home / "outputs").stat().st_uid == 40123
    manifest = json.loads((home / "data" / "MANIFEST.json").read_text())
    assert manifest["housing-combined.parquet"]["rows"] == 3
    # A narrower approval at the next start leaves no old column behind.
    rooms.prepare_room(tmp_path / "room", "kim", 40123,
                       {"housing-combined": (extract, ["ssis__sido"])})
    assert pq.read_table(copied).column_names == ["ssis__sido"]


def test_uids_are_stable_and_distinct(tmp_path):
    first = rooms.uid_for(tmp_path, 30000, "kim")
    assert rooms.uid_for(tmp_path, 30000, "lee") == first + 1
    assert rooms.uid_for(tmp_path, 30000, "kim") == first


def test_bridge_carries_bytes_between_tcp_and_a_unix_socket(tmp_path):
    async def scenario() -> bytes:
        async def echo(reader, writer):
            writer.write(b"room:" + await reader.read(100))
            await writer.drain()
            writer.close()

        target = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = target.sockets[0].getsockname()[1]
        sock = str(tmp_path / "hub.sock")
        inbound = await bridge.unix_to_tcp(sock, "127.0.0.1", port)
        outbound = await bridge.tcp_to_unix("127.0.0.1", 0, sock)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", outbound.sockets[0].getsockname()[1])
        writer.write(b"hello")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(100), 5)
        for server in (target, inbound, outbound):
            server.close()
        return answer

    assert asyncio.run(scenario()) == b"room:hello"


def test_login_needs_a_password_and_an_active_approval_and_is_audited(cat, extract,
                                                                      catalog_url):
    url = catalog_url
    cat.set_password("kim", PASSWORD, actor="root")
    cat.set_password("po1", PASSWORD, actor="root")
    assert access.login(url, "kim", PASSWORD) == (False, "no active secure-room approval")
    grant(cat, "r1", "kim", ["ssis__sido"])
    assert access.login(url, "kim", "wrong") == (False, "wrong user name or password")
    assert access.login(url, "kim", PASSWORD) == (True, "")
    assert access.login(url, "po1", PASSWORD)[0] is False
    assert access.approved_extracts(url, "kim") == {"housing-combined": (extract,
                                                                         ["ssis__sido"])}
    actions = [(e["actor"], e["action"]) for e in cat.audit_entries()
               if e["action"].startswith("room.")]
    assert actions == [("kim", "room.login_refused"), ("kim", "room.login"),
                       ("po1", "room.login_refused")]


def test_revoker_stops_only_servers_without_an_approval(cat, extract, catalog_url):
    url = catalog_url
    grant(cat, "r1", "kim", ["ssis__sido"])
    stopped = []

    def hub(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[{"name": "kim"}, {"name": "lee"}])
        stopped.append(request.url.path)
        return httpx.Response(204)

    async def sweep():
        async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as client:
            return await revoker.sweep(client, "http://hub/hub/api", url)

    assert asyncio.run(sweep()) == ["lee"]
    assert stopped == ["/hub/api/users/lee/server"]
    cat.revoke_request("r1", reason="ended", actor="po1")
    assert asyncio.run(sweep()) == ["kim", "lee"]
    assert [e["target"] for e in cat.audit_entries() if e["action"] == "room.stop"] == [
        "lee", "kim", "lee"]


def test_room_refuses_to_start_without_isolation_tools(tmp_path, monkeypatch):
    from analysis_env.hub import check_prerequisites

    settings = RoomSettings.load(tmp_path, "sqlite://", room_python=tmp_path / "nope")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(AnalysisEnvError, match=r"is not on PATH|room's Python"):
        check_prerequisites(settings)


def test_a_login_beyond_the_seats_is_told_to_wait(monkeypatch):
    pytest.importorskip("jupyterhub")
    from types import SimpleNamespace

    from tornado import web

    from analysis_env.hub.spawner import RoomSpawner

    monkeypatch.setattr(RoomSpawner, "_taken", {"lee", "park"})
    spawner = RoomSpawner(user=SimpleNamespace(name="kim", url="/user/kim/", id=1,
                                               escaped_name="kim"),
                          seats=2, database_url="sqlite://")
    with pytest.raises(web.HTTPError) as refused:
        asyncio.run(spawner.start())
    assert refused.value.status_code == 429
    assert refused.value.log_message.startswith("All 2 seats of the secure room are taken")
