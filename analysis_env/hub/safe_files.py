"""Opening files a researcher controls, as root, without being led anywhere else.

The intake (``intake``) runs as root and reads paths inside researchers' rooms. Every
path here is opened relative to an already-open folder, one part at a time, with
``O_NOFOLLOW``: a symbolic link anywhere is refused, not followed. A file is judged by
``fstat`` on the open descriptor (regular, one hard link, the researcher's own, not too
big) and read through that same descriptor, so it cannot be swapped in between.
Answers are written the same way, as the researcher's files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from analysis_env.room_side.manifest import AIRLOCK_DIR, INBOX

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Refused(Exception):
    """A file or manifest the intake will not take; the message is for the researcher."""


def open_dir(name: str, dir_fd: int | None, what: str) -> int:
    """Open a folder without following a link; ``what`` names it in the refusal."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused(f"{what} is a link or not a folder") from None
        raise


def open_file(name: str, dir_fd: int, what: str) -> tuple[int, os.stat_result]:
    """Open a regular file without following links; its ``fstat`` is what counts."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise Refused(f"{what}: no such file in outputs/") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(f"{what} is a symbolic link; only files saved in outputs/ may "
                          "leave, not links to elsewhere") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):
            raise Refused(f"{what} is not a regular file (a socket or device)") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(f"{what} is not a regular file (a folder, pipe or device)")
    return fd, info


def check_file(info: os.stat_result, uid: int, what: str, limit: int,
               limit_name: str = "the airlock's limit") -> None:
    """Refuse a file with other names (hard links), another owner, or too many bytes."""
    if info.st_nlink != 1:
        raise Refused(f"{what} has {info.st_nlink} hard links; save the result itself in "
                      "outputs/ rather than a link to a file elsewhere")
    if info.st_uid != uid:
        raise Refused(f"{what} belongs to another account; only files you saved may leave")
    if info.st_size > limit:
        raise Refused(f"{what} is {info.st_size} bytes, over {limit_name} of {limit} bytes; "
                      "nothing was filed")


def read_bounded(fd: int, limit: int, what: str) -> Iterator[bytes]:
    """The file's bytes, refusing once more than ``limit`` came (it may grow meanwhile)."""
    total = 0
    while block := os.read(fd, 1 << 20):
        total += len(block)
        if total > limit:
            raise Refused(f"{what} grew past the limit of {limit} bytes while being read")
        yield block


class RoomDirs:
    """Descriptors of a room's outputs/, .airlock/ and inbox/, opened without following links."""

    def __init__(self, room: Path, uid: int) -> None:
        self.fds: list[int] = []
        try:
            self._open(room, uid)
        except BaseException:
            self.close()
            raise

    def _open(self, room: Path, uid: int) -> None:
        self.room = self._keep(open_dir(str(room), None, "the room folder"))
        self.outputs = self._keep(open_dir("outputs", self.room, "outputs/"))
        self._owned(self.outputs, uid, "outputs/")
        self.airlock: int | None = None
        self.inbox: int | None = None
        with contextlib.suppress(FileNotFoundError):
            self.airlock = self._keep(open_dir(AIRLOCK_DIR, self.outputs, "outputs/.airlock"))
            self._owned(self.airlock, uid, "outputs/.airlock")
            self.inbox = self._keep(open_dir(INBOX, self.airlock, "outputs/.airlock/inbox"))
            self._owned(self.inbox, uid, "outputs/.airlock/inbox")

    def _keep(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    @staticmethod
    def _owned(fd: int, uid: int, what: str) -> None:
        if os.fstat(fd).st_uid != uid:
            raise Refused(f"{what} does not belong to the room's account")

    def close(self) -> None:
        for fd in reversed(self.fds):
            os.close(fd)
        self.fds = []


def write_owned(dir_fd: int, name: str, data: bytes, uid: int) -> None:
    """Write ``name`` in ``dir_fd`` as the researcher's file: temporary name, then rename."""
    temporary = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, uid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    try:
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        os.unlink(temporary, dir_fd=dir_fd)
        raise
