"""Envelopes: how a table crosses a trust boundary.

An envelope is an age file (any ``age`` tool decrypts it) whose plaintext is an
uncompressed tar of ``manifest.json`` and ``data.parquet``. The manifest names the kind,
project, sender and recipient, and the SHA-256 of the data; the sender's Ed25519 signature
over the canonical JSON of the manifest therefore covers the data too. A receiver accepts
a file only if it was encrypted to it, signed by a party allowed to send that kind in that
project, and unaltered.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
import pyrage
from cryptography.exceptions import InvalidSignature

from linkage.errors import LinkageError
from linkage.files import atomic_path
from linkage.keys.party import PartyPublic, PartySecret, load_party_public, load_party_secret
from linkage.keys.project import ProjectManifest

FORMAT = "pseudolink-envelope/1"
MANIFEST_MEMBER = "manifest.json"
DATA_MEMBER = "data.parquet"
KINDS = ("keys", "payload", "linkmap", "matched")
#: Keys, serials and link ids are random: compressing them costs CPU at both ends and saves
#: little (hex text halves at best). Attributes compress well.
COMPRESSION = {"keys": "none", "linkmap": "none", "matched": "none", "payload": "zstd"}
#: Reads of Parquet data being hashed or sealed: large enough that Python's overhead
#: disappears.
_CHUNK = 8 << 20


@dataclass(frozen=True)
class Envelope:
    """An opened, verified envelope."""

    manifest: dict[str, Any]
    table: pa.Table

    @property
    def sender(self) -> str:
        return self.manifest["sender"]


def canonical_json(data: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: sorted keys, no spaces, UTF-8.

    >>> canonical_json({"b": 1, "a": "가"})
    b'{"a":"\\xea\\xb0\\x80","b":1}'
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def seal(path: str | Path, table: pa.Table, *, kind: str, project_id: str,
         sender: PartySecret, recipient: PartyPublic,
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sign ``table`` as ``sender`` and encrypt it to ``recipient`` at ``path``."""
    with tempfile.TemporaryDirectory(prefix="pseudolink-seal-") as scratch:
        data_path = Path(scratch) / DATA_MEMBER
        pq.write_table(table, data_path, compression=COMPRESSION.get(kind, "zstd"))
        return seal_file(path, data_path, kind=kind, project_id=project_id, sender=sender,
                         recipient=recipient, extra=extra)


def seal_file(path: str | Path, data_path: str | Path, *, kind: str, project_id: str,
              sender: PartySecret, recipient: PartyPublic,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seal a Parquet file already on disk, streaming: memory stays flat whatever its size."""
    if kind not in KINDS:
        raise ValueError(f"unknown envelope kind {kind!r}")
    data_path = Path(data_path)
    metadata = pq.read_metadata(data_path)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "project": project_id,
        "sender": sender.id,
        "recipient": recipient.id,
        "data_sha256": _Member(data_path, 0, data_path.stat().st_size).sha256(),
        "rows": metadata.num_rows,
        "columns": metadata.schema.to_arrow_schema().names,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    manifest["signature"] = sender.signer.sign(canonical_json(manifest)).hex()
    with open(data_path, "rb") as data, atomic_path(path) as tmp, open(tmp, "wb") as out:
        stream = _TarStream([(MANIFEST_MEMBER, canonical_json(manifest)),
                             (DATA_MEMBER, data)])
        pyrage.encrypt_io(stream, out, [recipient.recipient()])
    return manifest


class _TarStream(io.RawIOBase):
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
            self._parts += [info.tobuf(tarfile.PAX_FORMAT), content,
                            b"\0" * (-size % tarfile.BLOCKSIZE)]
        # End of archive: two zero blocks, padded to a whole record as tarfile writes it.
        self._parts.append(b"\0" * tarfile.RECORDSIZE)
        # The current chunk and how much of it was handed out: slicing the rest off at every
        # call would copy the chunk again and again (pyrage reads 64 KiB at a time).
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
                self._buffer = memoryview(part.read(_CHUNK))
                if not self._buffer:
                    self._parts.pop(0)
            self._used = 0
        count = min(len(target), len(self._buffer) - self._used)
        target[:count] = self._buffer[self._used:self._used + count]
        self._used += count
        return count


@dataclass(frozen=True)
class _Member:
    """A byte range of a file: the data member of a decrypted envelope's scratch tar file, or
    a whole Parquet file being sealed.

    Read straight from the file with large reads (and copied by the kernel): a tar member
    object would move the data through Python a few kilobytes at a time.
    """

    path: Path
    offset: int
    size: int

    def chunks(self) -> Iterator[memoryview]:
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with open(self.path, "rb", buffering=0) as fh:
            fh.seek(self.offset)
            left = self.size
            while left:
                count = fh.readinto(view[:min(left, _CHUNK)])
                if not count:
                    raise LinkageError(f"{self.path}: truncated envelope")
                left -= count
                yield view[:count]

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    def copy_to(self, dest: Path) -> None:
        with open(self.path, "rb") as src, open(dest, "wb") as out:
            offset, left = self.offset, self.size
            try:
                while left:
                    copied = os.copy_file_range(src.fileno(), out.fileno(), left, offset)
                    if not copied:
                        raise LinkageError(f"{self.path}: truncated envelope")
                    offset, left = offset + copied, left - copied
            except OSError:  # a file system without copy_file_range
                out.seek(0)
                out.truncate()
                for chunk in self.chunks():
                    out.write(chunk)

    def table(self) -> pa.Table:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(self.size)
        return pq.read_table(pa.BufferReader(data))


@contextmanager
def _decrypted(path: Path, reader: PartySecret) -> Iterator[tuple[dict[str, Any], _Member, str]]:
    """Decrypt to a private scratch file and unpack: (manifest, data member, its SHA-256).

    The manifest is parsed but not yet trusted. Decrypting to disk rather than memory keeps
    a receiver's memory flat for files of tens of millions of records.
    """
    if not path.exists():
        raise LinkageError(f"{path}: file not found")
    with tempfile.TemporaryDirectory(prefix="pseudolink-open-") as scratch:
        plain_path = Path(scratch) / "plain.tar"
        try:
            # File to file inside pyrage: a fifth faster than through Python file objects.
            pyrage.decrypt_file(str(path), str(plain_path), [reader.identity])
        except (pyrage.DecryptError, OSError):
            # pyrage reports a damaged stream as OSError, a foreign recipient as DecryptError.
            raise LinkageError(f"{path}: cannot be decrypted by party '{reader.id}' (not "
                               "encrypted to it, altered, or not an age file)") from None
        try:
            with tarfile.open(plain_path, mode="r:") as tar:
                members = {m.name: m for m in tar.getmembers()}
                if set(members) != {MANIFEST_MEMBER, DATA_MEMBER} or not all(
                        m.isfile() for m in members.values()):
                    raise LinkageError(f"{path}: not a pseudolink envelope (holds "
                                       f"{sorted(members)})")
                manifest = json.loads(tar.extractfile(members[MANIFEST_MEMBER]).read())
            data = _Member(plain_path, members[DATA_MEMBER].offset_data,
                           members[DATA_MEMBER].size)
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise LinkageError(f"{path}: not a pseudolink envelope (unknown manifest "
                                   "format)")
            digest = data.sha256()
        except (tarfile.TarError, ValueError, AttributeError):
            raise LinkageError(f"{path}: not a pseudolink envelope") from None
        yield manifest, data, digest


def _verify(path: Path, manifest: dict[str, Any], digest: str, signer: PartyPublic) -> None:
    signature = manifest.get("signature")
    if not isinstance(signature, str):
        raise LinkageError(f"{path}: unsigned envelope refused")
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        signer.verifier().verify(bytes.fromhex(signature), canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        raise LinkageError(f"{path}: signature does not verify against the keys of "
                           f"'{signer.id}': the file was altered or not sent by it") from None
    if digest != manifest.get("data_sha256"):
        raise LinkageError(f"{path}: data does not match its signed digest: altered")


def _table(path: Path, manifest: dict[str, Any], data: _Member) -> pa.Table:
    table = data.table()
    if table.num_rows != manifest.get("rows"):
        raise LinkageError(f"{path}: holds {table.num_rows} rows, its manifest says "
                           f"{manifest.get('rows')}")
    return table


def open_envelope(path: str | Path, reader: PartySecret, expected_kind: str,
                  project: ProjectManifest, allowed_senders: Iterable[str]) -> Envelope:
    """Decrypt and verify an envelope, or refuse it with a :class:`LinkageError`."""
    path = Path(path)
    with _decrypted(path, reader) as (manifest, data, digest):
        _check_address(path, manifest, reader, expected_kind, project, allowed_senders)
        _verify(path, manifest, digest, project.party(manifest["sender"]))
        return Envelope(manifest, _table(path, manifest, data))


def open_envelope_to(path: str | Path, reader: PartySecret, expected_kind: str,
                     project: ProjectManifest, allowed_senders: Iterable[str],
                     dest: str | Path) -> tuple[dict[str, Any], Path]:
    """Like :func:`open_envelope`, but leave the verified data as a Parquet file at ``dest``.

    For inputs too large to hold in memory: an engine then scans the file from disk.
    """
    path, dest = Path(path), Path(dest)
    with _decrypted(path, reader) as (manifest, data, digest):
        _check_address(path, manifest, reader, expected_kind, project, allowed_senders)
        _verify(path, manifest, digest, project.party(manifest["sender"]))
        data.copy_to(dest)
    rows = pq.read_metadata(dest).num_rows
    if rows != manifest.get("rows"):
        raise LinkageError(f"{path}: holds {rows} rows, its manifest says "
                           f"{manifest.get('rows')}")
    return manifest, dest


def _check_address(path: Path, manifest: dict[str, Any], reader: PartySecret,
                   expected_kind: str, project: ProjectManifest,
                   allowed_senders: Iterable[str]) -> None:
    if manifest.get("project") != project.id:
        raise LinkageError(f"{path}: belongs to project '{manifest.get('project')}', "
                           f"not {project.id}")
    if manifest.get("kind") != expected_kind:
        raise LinkageError(f"{path}: is a {manifest.get('kind')} file, expected "
                           f"{expected_kind}")
    if manifest.get("recipient") != reader.id:
        raise LinkageError(f"{path}: addressed to '{manifest.get('recipient')}', "
                           f"not '{reader.id}'")
    sender = manifest.get("sender")
    allowed = set(allowed_senders)
    if sender not in allowed or sender not in project.parties:
        raise LinkageError(f"{path}: sender '{sender}' may not send {expected_kind} files in "
                           f"project {project.id} (allowed: {', '.join(sorted(allowed))})")


def read_envelope(path: str | Path, keys_dir: str | Path, party_id: str, passphrase: str,
                  project: ProjectManifest | None = None) -> pa.Table:
    """Decrypt an envelope addressed to ``party_id`` and return its table, verified.

    The signature is checked against the sender's keys in ``project`` when given, else
    against the sender's public key file in ``keys_dir``.
    """
    path = Path(path)
    reader = load_party_secret(keys_dir, party_id, passphrase)
    with _decrypted(path, reader) as (manifest, data, digest):
        sender = str(manifest.get("sender"))
        signer = project.party(sender) if project else load_party_public(keys_dir, sender)
        _verify(path, manifest, digest, signer)
        return _table(path, manifest, data)
