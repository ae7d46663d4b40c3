"""The byte work of an envelope (age encryption, its tar stream, SHA-256), in or out of
process.

The age encryption itself (:mod:`linkage.age_v1`) runs on several threads. What stays on
one core per file is Python's share of the work: SHA-256 of the ciphertext before a
decryption, and the tar stream. A stage that opens or seals several large envelopes
(link's keys files, combine's link map and payloads, prepare's two halves) runs each in a
worker process, so that those shares run side by side too: this file run as a script
(``python age_worker.py``), which imports nothing of ``linkage`` (starting it costs a few
hundredths of a second, not the half second of the package's imports).

The worker gets its request as one JSON line on stdin (an identity travels there, never
on the command line, where ``ps`` would show it; a decryption may start without it, check
the ciphertext while the caller's keys unlock, and get it on a second line once the
ciphertext matched), writes only where the request says (the
caller's private scratch folder, or an atomic write's temporary that the caller's reaper
already watches), answers one JSON line on stdout, and dies with its parent
(``PR_SET_PDEATHSIG``), so a stage killed with -9 leaves no worker writing behind it.

Every SHA-256 is computed on the stream the work reads or writes anyway: the plaintext's
data member while it is decrypted, the ciphertext while it is encrypted. The one pass kept
on its own is the ciphertext's before decryption: nothing of an unverified file is
decrypted (the module docstring of :mod:`linkage.envelope`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

if __package__:
    from linkage import age_v1
else:  # the worker process: its own folder, not the package (see above)
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import age_v1

#: Reads of a file being hashed: large enough that Python's overhead disappears.
HASH_READ = 8 << 20
MANIFEST_MEMBER = "manifest.json"
DATA_MEMBER = "data.parquet"
#: The manifest lists the data's columns; a megabyte is far beyond any real one.
MAX_MANIFEST_BYTES = 1 << 20


class Refused(Exception):
    """The file is not what its header promised: raised inside the decryption loop to
    stop it, or before it starts. The message names the file and is safe to show."""


class NotForUs(Exception):
    """Could not decrypt: not encrypted to this identity, altered, or not age."""


def sha256_file(path: str, offset: int = 0, size: int | None = None) -> str:
    """SHA-256 of a byte range of a file, read in large chunks (hashlib releases the GIL)."""
    digest = hashlib.sha256()
    buffer = bytearray(HASH_READ)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(offset)
        left = os.fstat(fh.fileno()).st_size - offset if size is None else size
        while left:
            count = fh.readinto(view[:min(left, HASH_READ)])
            if not count:
                raise Refused(f"{path}: truncated envelope")
            left -= count
            digest.update(view[:count])
    return digest.hexdigest()


class TarStream(io.RawIOBase):
    """A ustar/pax archive produced on demand, so a large member is never held in memory."""

    def __init__(self, members: list[tuple[str, bytes | BinaryIO]]) -> None:
        self._parts: list[bytes | BinaryIO] = []
        for name, content in members:
            if isinstance(content, bytes):
                size = len(content)
            else:
                size = os.fstat(content.fileno()).st_size
            info = tarfile.TarInfo(name)
            info.size, info.mode = size, 0o600
            # GNU headers write sizes past 8 GiB in base-256 in the one 512-byte header
            # block, so the receiver's bounded parser never meets a pax extension.
            self._parts += [info.tobuf(tarfile.GNU_FORMAT), content,
                            b"\0" * (-size % tarfile.BLOCKSIZE)]
        # End of archive: two zero blocks, padded to a whole record as tarfile writes it.
        self._parts.append(b"\0" * tarfile.RECORDSIZE)
        # The current header or padding and how much of it was handed out.
        self._buffer = memoryview(b"")
        self._used = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while self._used == len(self._buffer) and self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                self._buffer = memoryview(part)
                self._parts.pop(0)
            else:
                # A file member is read straight into the caller's buffer: no copy here.
                count = part.readinto(target)
                if count:
                    return count
                self._parts.pop(0)
                continue
            self._used = 0
        count = min(len(target), len(self._buffer) - self._used)
        target[:count] = self._buffer[self._used:self._used + count]
        self._used += count
        return count


class HashBeside:
    """Hashes large blocks on a thread of its own while they are written (hashlib and file
    writes release the GIL): once encryption runs on threads, SHA-256 is what bounds
    sealing or opening a large file."""

    #: Below this, handing the hash to another thread costs more than it saves.
    MIN_BYTES = 1 << 20

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None

    def hash_and_write(self, digest: Any, data, out: BinaryIO) -> None:
        """``digest.update(data)`` and ``out.write(data)``; both are done when this
        returns (the caller may reuse its buffer)."""
        if len(data) < self.MIN_BYTES:
            digest.update(data)
            out.write(data)
            return
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        hashed = self._thread.submit(digest.update, data)
        try:
            out.write(data)
        finally:
            hashed.result()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.shutdown()


class HashingWriter(io.RawIOBase):
    """Writes through to ``out`` and hashes what passes: the ciphertext's digest and size
    without reading the file back (large blocks hashed beside the write, :class:`HashBeside`)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.digest = hashlib.sha256()
        self.size = 0
        self._beside = HashBeside()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        self._beside.hash_and_write(self.digest, data, self._out)
        return len(data)

    def close(self) -> None:
        self._beside.stop()
        super().close()


def _padded(size: int) -> int:
    return size + (-size % tarfile.BLOCKSIZE)


class BoundedTar(io.RawIOBase):
    """Where decryption writes: checks the tar's two member headers as they stream past,
    stops the decryption at the first byte beyond what a sound envelope can hold, and
    hashes the data member's bytes as they pass (no second read of the plaintext)."""

    def __init__(self, out: BinaryIO, path: str, limit: int) -> None:
        self._out, self._path, self._limit = out, path, limit
        self._head = bytearray()
        self._written = 0
        self.members: list[tuple[str, int, int]] = []  # name, offset of data, size
        self._end = limit
        self.data_digest = hashlib.sha256()
        self._beside = HashBeside()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        count = len(data)
        start = self._written
        self._written += count
        if self._written > min(self._limit, self._end):
            raise Refused(f"{self._path}: holds more than its {MANIFEST_MEMBER} and "
                          f"{DATA_MEMBER} members")
        if len(self.members) < 2:
            self._head += data
            self._parse()
        if len(self.members) == 2:
            _, offset, size = self.members[1]
            low, high = max(start, offset), min(self._written, offset + size)
            if low < high and high - low == count:  # all data: hashed beside the write
                self._beside.hash_and_write(self.data_digest, data, self._out)
                return count
            if low < high:
                self.data_digest.update(memoryview(data)[low - start:high - start])
        self._out.write(data)
        return count

    def close(self) -> None:
        self._beside.stop()
        super().close()

    def _parse(self) -> None:
        while len(self.members) < 2:
            offset = 0 if not self.members else \
                self.members[-1][1] + _padded(self.members[-1][2])
            if len(self._head) < offset + tarfile.BLOCKSIZE:
                return
            block = bytes(self._head[offset:offset + tarfile.BLOCKSIZE])
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
            except (tarfile.TarError, UnicodeDecodeError):
                raise Refused(f"{self._path}: not a pseudolink envelope") from None
            name, cap = ((MANIFEST_MEMBER, MAX_MANIFEST_BYTES) if not self.members
                         else (DATA_MEMBER, self._limit))
            if info.name != name or not info.isfile():
                raise Refused(f"{self._path}: not a pseudolink envelope (member "
                              f"{info.name[:40]!r} where {name} belongs)")
            if info.size > cap:
                raise Refused(f"{self._path}: {name} is larger than the {cap} bytes allowed; "
                              "refused before decrypting the rest")
            self.members.append((name, offset + tarfile.BLOCKSIZE, info.size))
            if len(self.members) == 2:
                self._head = bytearray()
                # The end-of-archive blocks pad the tar to a whole record at most.
                data_end = offset + tarfile.BLOCKSIZE + _padded(info.size)
                self._end = data_end + 2 * tarfile.BLOCKSIZE + tarfile.RECORDSIZE


def check_ciphertext(path: str, size: int, sha256: str) -> None:
    """Refuse a ciphertext whose size or SHA-256 differ from its signed header's."""
    if os.stat(path).st_size != size or sha256_file(path) != sha256:
        raise Refused(f"{path}: does not match its signed header (altered, truncated or "
                      "replaced)")


def decrypt(path: str, identity: str, limit: int, plain_path: str, threads: int = 1
            ) -> tuple[list[tuple[str, int, int]], str]:
    """Decrypt ``path`` with ``identity`` (an ``AGE-SECRET-KEY-1...`` string) to the tar
    file ``plain_path`` with a cap on every member: (the members found, the data member's
    SHA-256)."""
    with open(path, "rb") as source, open(plain_path, "wb") as out:
        sink = BoundedTar(out, path, limit)
        try:
            age_v1.decrypt(source, sink, age_v1.identity_key(identity), threads)
        except Refused:
            raise
        except age_v1.AgeError:
            raise NotForUs(path) from None
        finally:
            sink.close()
    return sink.members, sink.data_digest.hexdigest()


def encrypt(manifest: bytes, data_path: str, recipient: str, out_path: str,
            threads: int = 1) -> tuple[int, str]:
    """Encrypt the tar of ``manifest`` and the file ``data_path`` to ``recipient`` (an
    ``age1...`` string) at ``out_path``: (ciphertext size, its SHA-256), hashed as it is
    written."""
    with open(data_path, "rb") as data, open(out_path, "wb") as out:
        stream = TarStream([(MANIFEST_MEMBER, manifest), (DATA_MEMBER, data)])
        with HashingWriter(out) as sink:
            age_v1.encrypt(stream, sink, [age_v1.recipient_key(recipient)], threads)
    return sink.size, sink.digest.hexdigest()


def _work(request: dict[str, Any], stdin: BinaryIO, stdout: BinaryIO
          ) -> dict[str, Any] | None:
    if request["op"] == "decrypt":
        check_ciphertext(request["path"], request["size"], request["sha256"])
        identity = request.get("identity")
        if identity is None:
            # The caller was still unlocking its keys (scrypt) while this checked the
            # ciphertext: say so, and only then does the identity come, on stdin.
            stdout.write(b'{"checked": true}\n')
            stdout.flush()
            line = stdin.readline()
            if not line:
                return None  # the caller gave up (its keys did not unlock)
            identity = json.loads(line)["identity"]
        members, digest = decrypt(request["path"], identity, request["limit"],
                                  request["plain_path"], request.get("threads", 1))
        return {"members": members, "data_sha256": digest}
    if request["op"] == "encrypt":
        size, digest = encrypt(request["manifest"].encode("utf-8"), request["data_path"],
                               request["recipient"], request["out_path"],
                               request.get("threads", 1))
        return {"size": size, "sha256": digest}
    raise ValueError(f"unknown operation {request['op']!r}")


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when its parent dies (Linux); elsewhere, and if the
    parent is already gone, stop now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    """The worker: one request on stdin (and, for a decryption whose request has no
    identity, the identity on a second line once the ciphertext checked out), one answer
    on stdout."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    request = json.loads(stdin.readline())
    _die_with_parent(request["parent"])
    try:
        result = _work(request, stdin, stdout)
        if result is None:
            return
        answer = {"ok": result}
    except Refused as exc:
        answer = {"refused": str(exc)}
    except NotForUs:
        answer = {"not_for_us": True}
    stdout.write(json.dumps(answer).encode("utf-8") + b"\n")
    stdout.flush()


class Worker:
    """One request running in a worker process. A decryption may be started before the
    caller holds the identity: the worker checks the ciphertext meanwhile, and
    :meth:`finish` hands the identity over only once that check has passed."""

    def __init__(self, request: dict[str, Any]) -> None:
        self._path = request.get("path", "")
        line = json.dumps({**request, "parent": os.getpid()}).encode("utf-8") + b"\n"
        # -I: the worker sees neither the caller's working folder nor PYTHON* settings.
        self._proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        try:
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died at once: finish() reports how

    def finish(self, identity: Callable[[], str] | None = None) -> dict[str, Any]:
        """Wait for the answer. ``identity`` gives the identity when the request had none
        (it may block while the keys unlock); it is called, and its result sent, only
        after the worker says the ciphertext matched. Refusals come back as
        :class:`Refused` and :class:`NotForUs`, anything else as a RuntimeError (with no
        request content: a request may hold an identity)."""
        proc = self._proc
        try:
            if identity is not None:
                first = proc.stdout.readline()
                if first.strip() != b'{"checked": true}':
                    return self._answer(first + proc.stdout.read())
                try:
                    proc.stdin.write(json.dumps({"identity": identity()}).encode("utf-8")
                                     + b"\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
            return self._answer(proc.stdout.read())
        except BaseException:
            self.cancel()
            raise

    def cancel(self) -> None:
        """Stop the worker (the caller gave up: its keys did not unlock, or it failed)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def _answer(self, out: bytes) -> dict[str, Any]:
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        returncode = self._proc.wait()
        err = self._proc.stderr.read()
        self._proc.stderr.close()
        self._proc.stdout.close()
        try:
            answer = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = err.decode("utf-8", "replace")[-400:]
            raise RuntimeError(f"envelope worker failed (exit {returncode}): {tail}"
                               ) from None
        if "refused" in answer:
            raise Refused(answer["refused"])
        if "not_for_us" in answer:
            raise NotForUs(self._path)
        return answer["ok"]


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run one whole request in a worker process; its answer (see :meth:`Worker.finish`)."""
    return Worker(request).finish()


if __name__ == "__main__":
    main()
