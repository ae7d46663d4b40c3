"""Byte relays between TCP and Unix sockets: the only way into and out of a room.

A researcher's server runs in a network namespace of its own, whose only interface
is loopback. Unix sockets are files, so they cross namespaces where TCP cannot: the
hub relays its API onto ``hub.sock`` and the room's server from ``server.sock``, and
inside the room this module (run as a script by the room's own Python, so stdlib
only) relays the other ends onto the room's loopback, then runs the server:

    hub 127.0.0.1:API  <- hub.sock    <- room 127.0.0.1:API    <- jupyterhub-singleuser
    proxy -> hub 127.0.0.1:PORT -> server.sock -> room 127.0.0.1:PORT (the server)

Nothing else is routed, so the room can reach the hub's API and nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _relay(connect: Connect) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            # The far end is not up yet: a refused connection the caller will retry.
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    return handle


async def tcp_to_unix(host: str, port: int, path: str) -> asyncio.Server:
    """Listen on ``host:port`` and relay every connection to the Unix socket ``path``."""
    return await asyncio.start_server(
        _relay(lambda: asyncio.open_unix_connection(path)), host, port)


async def unix_to_tcp(path: str, host: str, port: int, mode: int = 0o660) -> asyncio.Server:
    """Listen on the Unix socket ``path`` and relay every connection to ``host:port``."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(
        _relay(lambda: asyncio.open_connection(host, port)), path)
    os.chmod(path, mode)
    return server


def _undumpable() -> None:
    """Keep the room's own processes out of this one (ptrace, /proc/<pid>/fd, pidfd_getfd).

    The bridge runs as the researcher's uid and holds the room's only Unix sockets; the
    server and kernels cannot open one (``seccomp``), and must not borrow the bridge's.
    """
    import ctypes

    pr_set_dumpable = 4
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the room's bridge undumpable")


async def _run_room(args: argparse.Namespace) -> int:
    _undumpable()
    hub = await tcp_to_unix("127.0.0.1", args.hub_port, args.hub_sock)
    server = await unix_to_tcp(args.server_sock, "127.0.0.1", args.server_port, mode=0o600)
    child = await asyncio.create_subprocess_exec(*args.command, start_new_session=True)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    code = await child.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # kernels left behind by a crashed server
    hub.close()
    server.close()
    return code


def main(argv: list[str] | None = None) -> int:
    """In the room: relay the hub API and the server socket, run the server until it ends."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub-sock", required=True)
    parser.add_argument("--hub-port", type=int, required=True)
    parser.add_argument("--server-sock", required=True)
    parser.add_argument("--server-port", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("name the server command after --")
    return asyncio.run(_run_room(args))


if __name__ == "__main__":
    sys.exit(main())
