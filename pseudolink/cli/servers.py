"""What every ``pseudolink serve`` command shares: a port checked before it is announced, and
a child server (Streamlit, JupyterHub) that stops when pseudolink is told to stop.

A service manager stops a unit with SIGTERM to its main process; without forwarding, the
child server outlived it and kept the port. Default ports are distinct, so the servers of
one host can all run with their defaults.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pseudolink.cli.app import fail

#: Every server's default port, in one place (a test checks they differ).
DEFAULT_PORTS = {"api": 8000, "hub": 8100, "console": 8501, "portal": 8600,
                 "exchange": 8700}


def require_free_port(host: str, port: int, what: str) -> None:
    """Exit 2 with a clear message if ``host:port`` cannot be listened on, before any URL
    is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(f"{what} cannot listen on {host}:{port}: "
                       f"{exc.strerror or exc}; is another server running there? "
                       "Give another --port") from None


def run_child(argv: Sequence[str], *, env: Mapping[str, str],
              cwd: str | Path | None = None) -> int:
    """Run a server as a child and wait for it; SIGTERM, SIGINT and SIGHUP received by this
    process are passed on to it, so both stop together. Returns the child's exit code."""
    child = subprocess.Popen(list(argv), env=dict(env), cwd=cwd)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def child_pids(pid: int | None = None) -> list[int]:
    """The direct children of ``pid`` (this process by default), from /proc."""
    pid = os.getpid() if pid is None else pid
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(p) for p in task.read_text().split()]
    return children
