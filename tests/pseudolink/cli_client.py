"""The ``pseudolink`` command as the docs-run test's shell sees it: a client of the fork server.

Sends its arguments, working directory, environment and standard streams to the server
named by ``PSEUDOLINK_DOCS_SOCKET`` and exits with the command's status (1 if the command
died without reporting one). SIGTERM, SIGINT and SIGHUP sent to it are passed on to the
command's process, so that ``pseudolink serve api &`` ... ``kill $!`` stops the server as
it would a real one. Imports nothing heavy, so it starts in milliseconds.
"""

import json
import os
import signal
import socket
import sys

if __name__ == "__main__":
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(os.environ["PSEUDOLINK_DOCS_SOCKET"])
    request = {"args": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
    answer = b""
    while b"\n" not in answer and (chunk := client.recv(64)):
        answer += chunk
    pid, _, answer = answer.partition(b"\n")
    if pid.strip():
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, lambda number, _: os.kill(int(pid), number))
    while chunk := client.recv(64):
        answer += chunk
    sys.exit(int(answer) if answer.strip() else 1)
