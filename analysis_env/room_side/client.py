"""``pseudolink airlock request|status`` inside the room, where the catalog is out of reach.

``request`` checks what it can (the files are in outputs/, the context and controls
are given), drops a manifest in ``outputs/.airlock/inbox/`` and waits for the hub's
intake to answer in ``outputs/.airlock/status/``; ``status`` shows every request of
this room as the intake last wrote it. The commands of output checkers (``list``,
``review``, ``vote``, ``release``) are not here: they run outside the room.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .manifest import (
    AIRLOCK_DIR,
    INBOX,
    KINDS,
    REQUESTS,
    STATUS,
    TICKET,
    ManifestError,
    check_name,
    make_manifest,
    new_ticket,
)

OUTSIDE_ONLY = ("list", "review", "vote", "resubmit", "release", "withdraw")


class ClientError(Exception):
    """A request the room cannot send; the message says what to change."""


def outputs_dir() -> Path:
    """The room's outputs/ folder, which the spawner names in ``PSEUDOLINK_OUTPUTS``."""
    value = os.environ.get("PSEUDOLINK_OUTPUTS")
    if not value:
        raise ClientError("PSEUDOLINK_OUTPUTS is not set: this command works inside the "
                          "secure room; outside it, use the full `pseudolink airlock`")
    return Path(value)


def relative_name(outputs: Path, argument: str, cwd: Path | None = None) -> str:
    """``argument`` as a name relative to outputs/.

    A path that exists from the working folder and lies in outputs/ is taken as it is
    (``outputs/tenure.csv`` from the room's top, ``tenure.csv`` from inside outputs/);
    anything else is a name relative to outputs/, as outside the room.
    """
    base = os.path.abspath(outputs)
    here = os.path.abspath(os.path.join(cwd or os.getcwd(), argument))
    if os.path.lexists(here) and os.path.commonpath([base, here]) == base and here != base:
        name = os.path.relpath(here, base)
    else:
        name = os.path.normpath(argument) if not os.path.isabs(argument) else argument
    try:
        name = check_name(name.replace(os.sep, "/"))
    except ManifestError as exc:
        raise ClientError(str(exc)) from None
    path = Path(base, name)
    if path.is_symlink() or not path.is_file():
        raise ClientError(f"{name}: not a file in {outputs} (links are refused too); save "
                          "the result there first")
    return name


def _airlock(outputs: Path, *parts: str) -> Path:
    return outputs.joinpath(AIRLOCK_DIR, *parts)


def drop(outputs: Path, manifest: bytes) -> str:
    """Put a manifest in the inbox under a fresh ticket (temporary name, then rename)."""
    inbox = _airlock(outputs, INBOX)
    for folder in (_airlock(outputs), inbox, _airlock(outputs, STATUS)):
        folder.mkdir(mode=0o700, exist_ok=True)
    ticket = new_ticket()
    temporary = inbox / f".{ticket}.tmp"
    temporary.write_bytes(manifest)
    os.replace(temporary, inbox / f"{ticket}.json")
    return ticket


def read_status(outputs: Path, ticket: str) -> dict | None:
    """The intake's answer for ``ticket``, or None while it has not answered."""
    try:
        return json.loads(_airlock(outputs, STATUS, f"{ticket}.json").read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # written by a rename, so only a hand-edited file is unreadable


def wait_status(outputs: Path, ticket: str, timeout: float, poll: float = 0.5) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(outputs, ticket)
        if status is not None or time.monotonic() >= deadline:
            return status
        time.sleep(poll)


def pending(outputs: Path) -> list[str]:
    """Tickets in the inbox the intake has not taken yet."""
    inbox = _airlock(outputs, INBOX)
    if not inbox.is_dir():
        return []
    return sorted(p.stem for p in inbox.glob("*.json") if TICKET.match(p.stem))


def tickets(outputs: Path) -> list[dict]:
    """Every answer of the intake, newest first."""
    folder = _airlock(outputs, STATUS)
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
        status = read_status(outputs, path.stem)
        if status is not None:
            found.append(status)
    return found


def requests(outputs: Path) -> list[dict]:
    """This room's requests as they stand (the intake refreshes the file)."""
    try:
        return json.loads(_airlock(outputs, REQUESTS).read_text("utf-8"))["requests"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return []


def file_request(outputs: Path, files: list[str], context: str, controls: str,
                 kinds: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Check and drop a request; returns its ticket."""
    names = [relative_name(outputs, f, cwd) for f in files]
    kinds = {relative_name(outputs, k, cwd): v for k, v in (kinds or {}).items()}
    try:
        return drop(outputs, make_manifest(names, context, controls, kinds))
    except ManifestError as exc:
        raise ClientError(str(exc)) from None


def describe(request: dict) -> str:
    """A request as text: id, state, and each file's checks."""
    lines = [f"{request['id']}: {request['state']}",
             f"  context:  {request.get('context', '')}",
             f"  controls: {request.get('controls', '')}"]
    for file in request.get("files", []):
        flag = "HELD" if file.get("held") else "ok"
        lines.append(f"  {file['name']}  ({file.get('kind')}, sha256 {file['sha256'][:12]}) "
                     f"{flag}")
        for check in file.get("checks", []):
            mark = "ok  " if check["ok"] else "HELD"
            extra = " (a checker looks at it)" if check.get("review") else ""
            lines.append(f"      {mark} {check['reason']}{extra}")
        for vote in file.get("votes", []):
            lines.append(f"      checker: {vote['decision']}"
                         + (f": {vote['reason']}" if vote.get("reason") else ""))
    return "\n".join(lines)


def _request(args: argparse.Namespace) -> int:
    me = os.environ.get("JUPYTERHUB_USER", "")
    if args.user and me and args.user != me:
        raise ClientError(f"you are {me} in this room; a request from here is always yours")
    kinds = {}
    for item in args.kind or []:
        name, sep, kind = item.partition("=")
        if not sep or kind not in KINDS:
            raise ClientError(f"--kind {item!r}: write FILE=KIND, KIND one of {', '.join(KINDS)}")
        kinds[name] = kind
    outputs = outputs_dir()
    ticket = file_request(outputs, args.files, args.context, args.controls, kinds)
    print(f"sent to the airlock as ticket {ticket}; waiting for the automatic checks...",
          flush=True)
    status = wait_status(outputs, ticket, args.wait)
    if status is None:
        print(f"no answer yet; see it later with `pseudolink airlock status {ticket}`")
        return 3
    if not status.get("ok"):
        print(f"not filed: {status.get('error')}", file=sys.stderr)
        return 1
    print(describe(status["request"]))
    return 0


def _status(args: argparse.Namespace) -> int:
    outputs = outputs_dir()
    if args.ticket:
        status = read_status(outputs, args.ticket)
        if status is None:
            print(f"{args.ticket}: waiting for the intake" if args.ticket in pending(outputs)
                  else f"{args.ticket}: no such ticket")
            return 0 if args.ticket in pending(outputs) else 1
        current = {r["id"]: r for r in requests(outputs)}
        if not status.get("ok"):
            print(f"{args.ticket}: not filed: {status.get('error')}")
            return 0
        print(describe(current.get(status["request"]["id"], status["request"])))
        return 0
    for ticket in pending(outputs):
        print(f"{ticket}: waiting for the intake")
    for status in tickets(outputs):
        if not status.get("ok"):
            print(f"{status.get('ticket')}: not filed: {status.get('error')}")
    shown = requests(outputs)
    for request in shown:
        print(describe(request))
    if not shown:
        print("no airlock requests from this room yet")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pseudolink", description="Inside the secure room: ask "
                                  "the airlock to release files of outputs/.")
    verbs = top.add_subparsers(dest="group", required=True)
    airlock = verbs.add_parser("airlock", help="release requests for files in outputs/")
    sub = airlock.add_subparsers(dest="verb", required=True)
    request = sub.add_parser("request", help="ask for files of outputs/ to leave the room")
    request.add_argument("files", nargs="+", help="files in outputs/")
    request.add_argument("--context", required=True,
                         help="what the outputs show and why they are needed")
    request.add_argument("--controls", required=True,
                         help="the disclosure controls applied")
    request.add_argument("--kind", action="append",
                         help="FILE=frequency_table|model|figure|text, when the suffix misleads")
    request.add_argument("--as", dest="user", default="",
                         help="accepted for compatibility; always you in the room")
    request.add_argument("--wait", type=float, default=30.0,
                         help="seconds to wait for the checks (default 30)")
    status = sub.add_parser("status", help="your requests and what became of them")
    status.add_argument("ticket", nargs="?", help="one ticket")
    for verb in OUTSIDE_ONLY:
        sub.add_parser(verb, help="outside the room only", add_help=False)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args, extra = top.parse_known_args(argv)
    if extra and args.verb not in OUTSIDE_ONLY:
        top.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.verb in OUTSIDE_ONLY:
        print(f"`pseudolink airlock {args.verb}` is for output checkers and runs outside the "
              "room; inside it use `pseudolink airlock request` and `pseudolink airlock "
              "status`", file=sys.stderr)
        return 2
    try:
        return _request(args) if args.verb == "request" else _status(args)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return 2
