"""A fork server for the ``pseudolink`` command, so that documents' commands run quickly.

Importing the CLI and its subsystems takes seconds; the documents' tours run a hundred
commands. This server imports them once, then forks a child per command that becomes
that command: the client's standard streams (passed over a Unix socket), working
directory, environment and arguments, then ``pseudolink.cli.main()`` exactly as the
console script runs it. Only the import is shared; each command is its own process.

Run: ``python cli_forkserver.py SOCKET``; ``cli_client.py`` is the other end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import traceback


def _run(request: dict, fds: list[int], conn: socket.socket) -> None:
    """In the child: tell the client its process id (so that a signal sent to the client,
    a server run in the background and stopped with ``kill``, reaches it), become the
    command, report its exit status, exit."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    conn.sendall(f"{os.getpid()}\n".encode())
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["pseudolink", *request["args"]]
    code = 1
    try:
        from pseudolink.cli import main

        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # the traceback is the finding; the exit status says it failed
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):
                stream.flush()
    try:
        conn.sendall(str(code).encode())
    finally:
        os._exit(0)


def serve(path: str) -> None:
    import catalog  # noqa: F401  (the slow imports, done once)
    import linkage  # noqa: F401
    import pseudolink.cli  # noqa: F401  (every command module)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        if os.fork() == 0:
            server.close()
            _run(json.loads(message), fds, conn)
        for fd in fds:
            os.close(fd)
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
