"""The airlock's intake: files the requests that rooms drop, as root, trusting none of it.

A hub-managed service (``room-airlock``) that every ``--interval`` seconds looks in each
room's ``outputs/.airlock/inbox/`` (layout in ``analysis_env.room_side.manifest``):

- the **author** is the researcher whose room it is (the room folder's name, checked
  against the uid table and the folder's owner), never anything the manifest says;
- every path is opened relative to an already-open folder with ``O_NOFOLLOW``, so a
  symbolic link anywhere (the inbox, a manifest, a folder on the way, the file) is
  refused, and so are special files, files with more than one hard link, files owned
  by another account, and files over the airlock's size limit; each file is checked on
  the open descriptor (``fstat``) and copied through it into a root-only staging
  folder, so it cannot be swapped between the check and the copy;
- ``Airlock.request`` then runs the automatic checks on the staged copies;
- the answer (request id and checks, or why not) goes back to
  ``outputs/.airlock/status/<ticket>.json``, owned by the researcher, and
  ``outputs/.airlock/requests.json`` keeps every request of that room as it stands.

A bad manifest gets an error in its status file and an ``airlock.intake_refused``
audit entry; nothing a room writes can stop the service.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import catalog
from analysis_env.airlock import Airlock, AirlockRequest
from analysis_env.errors import AnalysisEnvError
from analysis_env.hub.safe_files import (
    Refused,
    RoomDirs,
    check_file,
    open_dir,
    open_file,
    read_bounded,
    write_owned,
)
from analysis_env.room_side.manifest import (
    MAX_MANIFEST_BYTES,
    REQUESTS,
    STATUS,
    TICKET,
    ManifestError,
    parse_manifest,
)
from anonymize import AnonymizeError, OutputThresholds

log = logging.getLogger("pseudolink.room.intake")

#: Manifests taken from one room per sweep, so one room cannot starve the others.
PER_ROOM = 10


@dataclass(frozen=True)
class Outcome:
    user: str
    ticket: str
    request: AirlockRequest | None = None
    error: str | None = None

    @property
    def request_id(self) -> str | None:
        return self.request.id if self.request is not None else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def request_view(request: AirlockRequest) -> dict:
    """A request as the room may see it: no checker names, votes only once decided."""
    doc = dataclasses.asdict(request)
    for file in doc["files"]:
        file["held"] = any(not c["ok"] for c in file["checks"])
        file["votes"] = [{"decision": v["decision"], "reason": v["reason"]}
                         for v in file["votes"]]
    return doc


class Intake:
    """Files the requests of every room under ``room_root`` into the workspace's airlock."""

    def __init__(self, workspace: Path, room_root: Path, database_url: str,
                 hub_dir: Path | None = None) -> None:
        self.workspace = Path(workspace)
        self.room_root = Path(room_root)
        self.database_url = database_url
        self.hub_dir = Path(hub_dir) if hub_dir else self.workspace / "hub"
        self.airlock_root = self.workspace / "airlock"
        self.staging = self.airlock_root / "intake"
        self._store_stamp: object = None
        self._written: dict[str, bytes] = {}
        self._stuck: set[tuple[str, str]] = set()
        self._warned: set[str] = set()

    def _warn_once(self, message: str) -> None:
        """Log a problem of a room once, not at every sweep while it lasts."""
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # -- which rooms ------------------------------------------------------------------

    def rooms(self) -> list[tuple[str, int]]:
        """(user, uid) of each room the hub made: a folder ``root:<uid>`` named after a
        user in the uid table."""
        try:
            table = json.loads((self.hub_dir / "uids.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        found = []
        with os.scandir(self.room_root) as entries:
            for entry in entries:
                uid = table.get(entry.name)
                if entry.name.startswith(".") or uid is None:
                    continue
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_gid == uid:
                    found.append((entry.name, int(uid)))
        return sorted(found)

    def thresholds(self) -> OutputThresholds:
        path = self.workspace / "settings.toml"
        if path.exists() and "outputs" in tomllib.loads(path.read_text(encoding="utf-8")):
            return OutputThresholds.load(path)
        return OutputThresholds()

    # -- one sweep --------------------------------------------------------------------

    def sweep(self) -> list[Outcome]:
        """Take every waiting manifest; refresh each room's requests.json if anything moved."""
        rooms = self.rooms()
        waiting = {user: self._waiting(user, uid) for user, uid in rooms}
        fresh = [user for user, _ in rooms if user not in self._written]
        outcomes: list[Outcome] = []
        with catalog.Catalog.connect(self.database_url) as cat:
            airlock = Airlock(self.airlock_root, cat, self.thresholds())
            # The requests are in the catalog: its stamp moves with any vote or decision.
            if (not any(waiting.values()) and airlock.stamp() == self._store_stamp
                    and not fresh):
                return []
            for user, uid in rooms:
                for name in waiting[user]:
                    outcomes.append(self._take(airlock, user, uid, name))
            self._store_stamp = airlock.stamp()
            for user, uid in rooms:
                try:
                    self._refresh(airlock, user, uid)
                except (OSError, Refused, AnalysisEnvError) as exc:
                    self._written.setdefault(user, b"")  # retried when the store changes
                    self._warn_once(f"cannot refresh the requests of {user}'s room: {exc}")
        return outcomes

    def _waiting(self, user: str, uid: int) -> list[str]:
        try:
            dirs = RoomDirs(self.room_root / user, uid)
        except (OSError, Refused) as exc:
            self._warn_once(f"skipping {user}'s room: {exc}")
            return []
        try:
            if dirs.inbox is None:
                return []
            names = sorted(n for n in os.listdir(dirs.inbox)
                           if n.endswith(".json") and (user, n) not in self._stuck)
            return names[:PER_ROOM]
        finally:
            dirs.close()

    def _take(self, airlock: Airlock, user: str, uid: int, name: str) -> Outcome:
        """File one manifest; whatever happens, answer in its status file."""
        ticket = name[:-len(".json")]
        try:
            dirs = RoomDirs(self.room_root / user, uid)
        except (OSError, Refused) as exc:
            return Outcome(user, ticket, error=str(exc))
        try:
            if dirs.inbox is None or dirs.airlock is None:
                return Outcome(user, ticket, error="the inbox went away")
            try:
                outcome = self._file(airlock, dirs, user, uid, ticket, name)
            except (Refused, ManifestError, AnalysisEnvError, AnonymizeError) as exc:
                outcome = Outcome(user, ticket, error=str(exc))
            except Exception:  # the service must outlive any one request
                log.exception("intake failed on ticket %s of %s", ticket, user)
                outcome = Outcome(user, ticket, error="the intake could not file this "
                                  f"request; tell the room's operator (ticket {ticket})")
            if outcome.error is not None:
                with contextlib.suppress(Exception):
                    airlock.catalog.audit(user, "airlock.intake_refused", ticket,
                                          {"reason": outcome.error})
                log.warning("refused ticket %s of %s: %s", ticket, user, outcome.error)
            if TICKET.match(ticket):
                self._answer(dirs, uid, outcome)
            return outcome
        finally:
            dirs.close()

    def _file(self, airlock: Airlock, dirs: RoomDirs, user: str, uid: int, ticket: str,
              name: str) -> Outcome:
        assert dirs.inbox is not None
        try:
            data = self._read_manifest(dirs.inbox, name, uid)
        finally:
            try:
                os.unlink(name, dir_fd=dirs.inbox)
            except FileNotFoundError:
                pass
            except OSError:
                self._stuck.add((user, name))  # a folder named *.json: never look again
        if not TICKET.match(ticket):
            raise Refused(f"{name}: a ticket is letters, digits, '-' and '_'")
        manifest = parse_manifest(data)
        limit = airlock.thresholds.max_file_bytes
        self.staging.mkdir(parents=True, exist_ok=True)
        os.chmod(self.staging, 0o700)
        staged = Path(tempfile.mkdtemp(prefix=f"{ticket}.", dir=self.staging))
        try:
            for file in manifest.files:
                self._stage(dirs.outputs, file, uid, staged, limit)
            request = airlock.request(user, staged, manifest.files, context=manifest.context,
                                      controls=manifest.controls, kinds=manifest.kinds)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        log.info("filed ticket %s of %s as %s", ticket, user, request.id)
        return Outcome(user, ticket, request=request)

    @staticmethod
    def _read_manifest(inbox: int, name: str, uid: int) -> bytes:
        fd, info = open_file(name, inbox, f"the manifest {name}")
        try:
            check_file(info, uid, f"the manifest {name}", MAX_MANIFEST_BYTES,
                        "the limit for a manifest")
            return b"".join(read_bounded(fd, MAX_MANIFEST_BYTES, f"the manifest {name}"))
        finally:
            os.close(fd)

    @staticmethod
    def _stage(outputs: int, name: str, uid: int, staged: Path, limit: int) -> None:
        """Copy ``outputs/name`` to ``staged/name`` through descriptors, checking each step."""
        parts = name.split("/")
        opened: list[int] = []
        try:
            folder = outputs
            for index, part in enumerate(parts[:-1]):
                where = "/".join(parts[:index + 1])
                try:
                    folder = open_dir(part, folder, f"{where} (in {name})")
                except FileNotFoundError:
                    raise Refused(f"{name}: no such file in outputs/") from None
                opened.append(folder)
            fd, info = open_file(parts[-1], folder, name)
            opened.append(fd)
            check_file(info, uid, name, limit)
            target = staged / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:
                for block in read_bounded(fd, limit, name):
                    out.write(block)
        finally:
            for fd in reversed(opened):
                os.close(fd)

    # -- answers ----------------------------------------------------------------------

    @staticmethod
    def _status_dir(dirs: RoomDirs, uid: int) -> int:
        assert dirs.airlock is not None
        with contextlib.suppress(FileExistsError):
            os.mkdir(STATUS, 0o700, dir_fd=dirs.airlock)
        fd = open_dir(STATUS, dirs.airlock, "outputs/.airlock/status")
        if os.fstat(fd).st_uid != uid:
            os.fchown(fd, uid, uid)  # the one made just now, by root
        return fd

    def _answer(self, dirs: RoomDirs, uid: int, outcome: Outcome) -> None:
        status: dict = {"ticket": outcome.ticket, "ok": outcome.error is None, "at": _now()}
        if outcome.request is None:
            status["error"] = outcome.error
        else:
            status["request"] = request_view(outcome.request)
        try:
            fd = self._status_dir(dirs, uid)
            try:
                write_owned(fd, f"{outcome.ticket}.json",
                             json.dumps(status, ensure_ascii=False, indent=1).encode(), uid)
            finally:
                os.close(fd)
        except (OSError, Refused) as exc:
            log.warning("cannot answer ticket %s in %s's room: %s", outcome.ticket,
                        outcome.user, exc)

    def _refresh(self, airlock: Airlock, user: str, uid: int) -> None:
        """Rewrite ``outputs/.airlock/requests.json`` when this room's requests changed."""
        requests = [request_view(r) for r in airlock.list(actor=user)]
        data = json.dumps({"requests": requests}, ensure_ascii=False, indent=1).encode()
        if self._written.get(user) == data:
            return
        dirs = RoomDirs(self.room_root / user, uid)
        try:
            if dirs.airlock is not None:
                write_owned(dirs.airlock, REQUESTS, data, uid)
            self._written[user] = data
        finally:
            dirs.close()


def run(intake: Intake, interval: float) -> None:
    while True:
        try:
            intake.sweep()
        except Exception:  # log and carry on: the next sweep may succeed
            log.exception("airlock intake sweep failed")
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--room-root", required=True, type=Path)
    parser.add_argument("--hub-dir", type=Path)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s intake %(message)s")
    # The hub stops a service with SIGINT, then SIGTERM; either ends it at once, even when
    # SIGINT was ignored by whoever started the hub.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    run(Intake(args.workspace, args.room_root, os.environ["PSEUDOLINK_DATABASE_URL"],
               args.hub_dir), args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
