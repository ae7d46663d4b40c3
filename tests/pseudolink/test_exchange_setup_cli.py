"""A project set up and fed through the exchange from the CLI, nothing copied by hand: the
parties fetch project.json, the holders accept with --send and fetch each other's shares,
prepare with --send, and the key manager and agency pull what is addressed to them."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from typer.testing import CliRunner

import linkage
from catalog.identity import HASHING_SETTING
from linkage.exchange import ExchangeState, open_exchange
from pseudolink.cli import exchange, holder, link, project, project_accept  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import (  # noqa: F401
    BUILDING_CSV,
    PASSPHRASE,
    SPEC,
    SSIS_CSV,
    party_keys,
    party_workspace,
)

PROJECT = "housing-test"
HOLDERS = ("ssis", "building")


@pytest.fixture
def served(tmp_path, party_keys, monkeypatch):  # noqa: F811
    """Four party workspaces, the project created at the agency and registered at an
    exchange (SQLite state) served on loopback; yields (url, run, spaces, audit log)."""
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PSEUDOLINK_SESSION", raising=False)
    spaces = {p: tmp_path / p for p in (*HOLDERS, "keymanager", "agency")}
    for party, space in spaces.items():
        party_workspace(party_keys, space / "keys", party)
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    spec = linkage.ProjectSpec.load(tmp_path / "project.toml")
    manifest = linkage.create_project(spec, spaces["agency"] / "keys",
                                      spaces["agency"] / "data" / PROJECT)
    db = f"sqlite:///{tmp_path / 'exchange.db'}"
    ExchangeState(db).register(manifest)
    audit: list[tuple] = []
    server_app = open_exchange(db, tmp_path / "exchange-files", lambda *e: audit.append(e))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(server_app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    runner = CliRunner()

    def run(party: str, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--workdir", str(spaces[party])])
        assert result.exit_code == code, result.output
        return result.output

    try:
        yield f"http://127.0.0.1:{port}", run, spaces, audit
    finally:
        server.should_exit = True
        thread.join(10)


def test_holders_set_up_prepare_and_send_through_the_exchange(served, tmp_path):
    url, run, spaces, audit = served
    for party in (*HOLDERS, "keymanager"):
        assert "project.json" in run(party, "exchange", "pull-project", "--project", PROJECT,
                                     "--exchange", url)
    for holder_id in HOLDERS:
        out = run(holder_id, "project", "accept", "--project", PROJECT, "--holder",
                  holder_id, "--yes", "--send", url)
        assert "sent to every party" in out
    for holder_id in HOLDERS:
        # Each holder receives the other's acceptance and share: the project key exists.
        run(holder_id, "exchange", "pull-project", "--project", PROJECT, "--exchange", url)
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    (tmp_path / "building.csv").write_text(BUILDING_CSV, encoding="utf-8")
    for holder_id in HOLDERS:
        out = run(holder_id, "holder", "prepare", "--project", PROJECT, "--holder",
                  holder_id, "--input", str(tmp_path / f"{holder_id}.csv"), "--out",
                  str(spaces[holder_id] / "out"), "--send", url)
        assert f"{holder_id}.keys.age: keys for keymanager, sent" in out
        assert f"{holder_id}.payload.age: payload for agency, sent" in out
    run("keymanager", "exchange", "pull", "--project", PROJECT, "--out",
        str(spaces["keymanager"] / "inbox"), "--exchange", url)
    inbox = spaces["keymanager"] / "inbox"
    assert sorted(p.name for p in inbox.glob("*.age")) == ["building.keys.age",
                                                           "ssis.keys.age"]
    for name in ("ssis.keys.age", "building.keys.age"):
        holder_id = name.split(".")[0]
        assert (inbox / name).read_bytes() == \
            (spaces[holder_id] / "out" / name).read_bytes()
    run("keymanager", "link", "--project", PROJECT, "--keys", str(inbox / "ssis.keys.age"),
        str(inbox / "building.keys.age"), "--out", str(spaces["keymanager"] / "linked"))
    assert (spaces["keymanager"] / "linked" / "linkmap.age").is_file()
    actions = [(e[0], e[1]) for e in audit]
    assert ("ssis", "exchange.setup.accepted") in actions
    assert ("building", "exchange.upload.accepted") in actions


def test_prepare_send_refused_by_the_exchange_says_so_and_keeps_the_files(served, tmp_path):
    """The exchange unreachable: prepare's files stay, and the holder is told how to send."""
    url, run, spaces, audit = served
    for holder_id in HOLDERS:
        run(holder_id, "exchange", "pull-project", "--project", PROJECT, "--exchange", url)
        run(holder_id, "project", "accept", "--project", PROJECT, "--holder", holder_id,
            "--yes", "--send", url)
    run("ssis", "exchange", "pull-project", "--project", PROJECT, "--exchange", url)
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    wrong = "http://127.0.0.1:9"  # nothing listens on the discard port
    out = run("ssis", "holder", "prepare", "--project", PROJECT, "--holder", "ssis",
              "--input", str(tmp_path / "ssis.csv"), "--out", str(spaces["ssis"] / "out"),
              "--send", wrong, code=2)
    assert "prepared, but not sent" in out and "exchange push" in out
    assert (spaces["ssis"] / "out" / "ssis.keys.age").is_file()
    assert not [e for e in audit if e[1] == "exchange.upload.accepted"]
