"""Servers behave as services: distinct default ports, a busy port refused before any URL is
announced, children stopped with the parent, and a CLI that says its version."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import typer.main
from typer.testing import CliRunner

from pseudolink.cli import app
from pseudolink.cli.servers import child_pids

runner = CliRunner()


def _default_port(command: str) -> int:
    group = typer.main.get_command(app).commands["serve"]
    (port,) = [p for p in group.commands[command].params if p.name == "port"]
    return port.default


def test_every_server_has_its_own_default_port():
    ports = {name: _default_port(name) for name in ("api", "console", "portal",
                                                  "exchange")}
    from analysis_env.hub import RoomSettings

    ports["hub"] = RoomSettings.__dataclass_fields__["port"].default
    assert len(set(ports.values())) == len(ports), ports


def test_version_is_printed():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("pseudolink ")


def test_every_command_and_option_says_what_it_does():
    def walk(command: click.Command, path: str) -> list[str]:
        missing = [] if command.help or command.short_help else [path]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                missing += walk(sub, f"{path} {name}")
        else:
            missing += [f"{path} {p.opts[0]}" for p in command.params
                        if isinstance(p, click.Option) and not p.hidden and not p.help]
        return missing

    assert walk(typer.main.get_command(app), "pseudolink") == []


def test_a_busy_port_is_refused_before_the_url_is_announced(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "api", "--port", str(port), "--workdir",
                                     str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "cannot listen" in result.output
    assert "http://" not in result.output


def test_sigterm_stops_the_console_and_its_streamlit_child(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tmp_path / "ws"
    assert runner.invoke(app, ["init", "--workdir", str(workdir)]).exit_code == 0
    server = subprocess.Popen([sys.executable, "-m", "pseudolink", "serve", "console",
                               "--port", str(port), "--workdir", str(workdir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while time.monotonic() < deadline and not children:
            children = child_pids(server.pid)
            time.sleep(0.2)
        assert children, "the console did not start Streamlit"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists()
                                                  and _alive(c) for c in children):
            time.sleep(0.2)
        assert not any(Path(f"/proc/{c}").exists() and _alive(c) for c in children)
    finally:
        if server.poll() is None:
            server.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing
