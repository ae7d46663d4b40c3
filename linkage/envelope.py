"""Envelopes: how a table crosses a trust boundary.

An envelope is two files. ``X.age`` is a plain age file (any ``age`` tool decrypts it)
whose plaintext is an uncompressed tar of ``manifest.json`` and ``data.parquet``; the
manifest names the kind, project, sender and recipient and the SHA-256 of the data, and is
signed by the sender. ``X.age.sig`` is a small signed header over the ciphertext: kind,
project id and binding (:attr:`ProjectManifest.binding`), sender, recipient, a per-file
nonce, and the ciphertext's SHA-256 and size.

Encrypt-then-sign: a receiver reads the header with a hard size cap and verifies it against
the sender's key in the project manifest, then hashes the ciphertext, and only then
decrypts, with a cap on every tar member. Anyone can encrypt to a recipient's public key,
so nothing of an unverified file is parsed; and a party without any secret key (an
exchange) can check who sent a file for which project (:func:`verify_envelope`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidSignature

from linkage import age_worker

# The member names and caps, and the bounded tar parser, stay importable from here.
from linkage.age_worker import (  # noqa: F401
    DATA_MEMBER,
    MANIFEST_MEMBER,
    MAX_MANIFEST_BYTES,
    NotForUs,
)
from linkage.age_worker import BoundedTar as _BoundedTar  # noqa: F401
from linkage.age_worker import Refused as _Refused
from linkage.errors import LinkageError
from linkage.files import atomic_path, write_atomic
from linkage.keys.party import PartyPublic, PartySecret, load_party_public, load_party_secret
from linkage.keys.project import ProjectManifest
from linkage.scratch import private_dir

FORMAT = "pseudolink-envelope/2"
HEADER_FORMAT = "pseudolink-envelope-header/1"
HEADER_SUFFIX = ".sig"
#: A header is a few hundred bytes; anything much larger is refused before it is parsed.
MAX_HEADER_BYTES = 16 << 10
NONCE_BYTES = 16
KINDS = ("keys", "payload", "linkmap", "matched", "review", "decisions")
#: Keys, serials and link ids are random: compressing them costs CPU at both ends and saves
#: little (hex text halves at best). Attributes compress well.
COMPRESSION = {"keys": "none", "linkmap": "none", "matched": "none", "payload": "zstd"}
#: Reads of Parquet data being hashed or sealed: large enough that Python's overhead
#: disappears.
_HASH_READ = age_worker.HASH_READ
#: Envelopes of at least this many bytes together are opened (or sealed) in worker
#: processes, side by side, when the stage may use more than one core: below it, starting
#: a worker costs more than it saves.
WORKER_MIN_BYTES = 32 << 20


@dataclass(frozen=True)
class EnvelopeHeader:
    """The verified outer header of an envelope: who sent what, for which project."""

    kind: str
    project: str
    binding: str
    key_version: int
    sender: str
    recipient: str
    nonce: str
    ciphertext_sha256: str
    ciphertext_size: int
    created_at: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvelopeHeader:
        types = {"kind": str, "project": str, "binding": str, "key_version": int,
                 "sender": str, "recipient": str, "nonce": str, "ciphertext_sha256": str,
                 "ciphertext_size": int, "created_at": str}
        for name, kind in types.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise ValueError(f"field '{name}' missing or not a {kind.__name__}")
        return cls(**{name: data[name] for name in types})


def header_path(path: str | Path) -> Path:
    """Where the signed header of envelope ``path`` lives: ``X.age`` -> ``X.age.sig``."""
    path = Path(path)
    return path.with_name(path.name + HEADER_SUFFIX)


def valid_party_id(party_id: object) -> bool:
    """Whether ``party_id`` is a party id as ``party create`` allows it: never a path.

    >>> [valid_party_id(x) for x in ("ssis", "키관리", "../../x", ".hidden", "")]
    [True, True, False, False, False]
    """
    return (isinstance(party_id, str) and 0 < len(party_id) <= 64
            and not party_id.startswith(".")
            and all(ch.isalnum() or ch in "-_." for ch in party_id))


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


def seal(path: str | Path, table: pa.Table, *, kind: str, project: ProjectManifest,
         sender: PartySecret, recipient: PartyPublic,
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sign ``table`` as ``sender`` and encrypt it to ``recipient`` at ``path`` (and its
    signed header at ``path.sig``)."""
    with private_dir("seal") as scratch:
        data_path = Path(scratch) / DATA_MEMBER
        # The digest as it is written: no re-read.
        with open(data_path, "wb") as raw, age_worker.HashingWriter(raw) as sink:
            pq.write_table(table, sink, compression=COMPRESSION.get(kind, "zstd"))
        return seal_file(path, data_path, kind=kind, project=project, sender=sender,
                         recipient=recipient, extra=extra,
                         data_sha256=sink.digest.hexdigest())


def seal_file(path: str | Path, data_path: str | Path, *, kind: str,
              project: ProjectManifest, sender: PartySecret, recipient: PartyPublic,
              extra: dict[str, Any] | None = None, data_sha256: str | None = None,
              in_worker: bool = False) -> dict[str, Any]:
    """Seal a Parquet file already on disk, streaming: memory stays flat whatever its size.

    ``data_sha256`` is the file's digest where the caller hashed it as it wrote it (no
    second read). ``in_worker`` encrypts in a worker process (:mod:`linkage.age_worker`),
    so that several seals run side by side on several cores; the ciphertext is hashed as
    it is written either way.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown envelope kind {kind!r}")
    data_path = Path(data_path)
    metadata = pq.read_metadata(data_path)
    nonce = secrets.token_hex(NONCE_BYTES)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "project": project.id,
        "binding": project.binding,
        "nonce": nonce,
        "sender": sender.id,
        "recipient": recipient.id,
        "data_sha256": data_sha256 or _Member(data_path, 0, data_path.stat().st_size).sha256(),
        "rows": metadata.num_rows,
        "columns": metadata.schema.to_arrow_schema().names,
        "created_at": created_at,
        **(extra or {}),
    }
    manifest["signature"] = sender.signer.sign(canonical_json(manifest)).hex()
    with atomic_path(path) as tmp:
        if in_worker:
            answer = age_worker.run({
                "op": "encrypt", "manifest": canonical_json(manifest).decode("utf-8"),
                "data_path": str(data_path), "recipient": recipient.age_recipient,
                "out_path": str(tmp), "threads": _stage_threads()})
            size, ciphertext_sha256 = answer["size"], answer["sha256"]
        else:
            size, ciphertext_sha256 = age_worker.encrypt(
                canonical_json(manifest), str(data_path), recipient.age_recipient, str(tmp),
                _stage_threads())
        header = {
            "format": HEADER_FORMAT, "kind": kind, "project": project.id,
            "binding": project.binding, "key_version": project.key_version,
            "sender": sender.id, "recipient": recipient.id, "nonce": nonce,
            "ciphertext_sha256": ciphertext_sha256, "ciphertext_size": size,
            "created_at": created_at,
        }
        header["signature"] = sender.signer.sign(canonical_json(header)).hex()
        # The header lands first: until the ciphertext is renamed over an older one, a
        # reader sees a mismatch and refuses, never an old file under a new header.
        write_atomic(header_path(path), canonical_json(header))
    return manifest


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
        buffer = bytearray(_HASH_READ)
        view = memoryview(buffer)
        with open(self.path, "rb", buffering=0) as fh:
            fh.seek(self.offset)
            left = self.size
            while left:
                count = fh.readinto(view[:min(left, _HASH_READ)])
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


def _read_header(path: Path) -> tuple[dict[str, Any], EnvelopeHeader]:
    """The header beside ``path``, read with a hard cap and parsed, not yet trusted."""
    sig = header_path(path)
    if not path.exists():
        raise LinkageError(f"{path}: file not found")
    if not sig.exists():
        raise LinkageError(f"{path}: unsigned envelope refused (no signed header {sig.name} "
                           "beside it; move both files together)")
    with open(sig, "rb") as fh:
        raw = fh.read(MAX_HEADER_BYTES + 1)
    if len(raw) > MAX_HEADER_BYTES:
        raise LinkageError(f"{sig}: header is larger than {MAX_HEADER_BYTES} bytes; refused "
                           "unread")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != HEADER_FORMAT:
            raise ValueError("unknown header format")
        header = EnvelopeHeader.from_dict(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LinkageError(f"{sig}: not an envelope header ({exc})") from None
    if not valid_party_id(header.sender):
        raise LinkageError(f"{sig}: sender id {header.sender[:70]!r} is not a party id")
    return data, header


def _check_header_signature(path: Path, data: dict[str, Any], signer: PartyPublic) -> None:
    signature = data.get("signature")
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    try:
        if not isinstance(signature, str):
            raise ValueError("no signature")
        signer.verifier().verify(bytes.fromhex(signature), canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        raise LinkageError(f"{header_path(path)}: header signature does not verify against "
                           f"the keys of '{signer.id}': altered, or not sent by it") from None


def _check_ciphertext(path: Path, header: EnvelopeHeader, sha256: str | None = None) -> None:
    size = path.stat().st_size
    if size != header.ciphertext_size or \
            (sha256 or _Member(path, 0, size).sha256()) != header.ciphertext_sha256:
        raise LinkageError(f"{path}: does not match its signed header (altered, truncated "
                           "or replaced)")


def _check_binding(path: Path, header: EnvelopeHeader, project: ProjectManifest) -> None:
    if header.project != project.id:
        raise LinkageError(f"{path}: belongs to project '{header.project}', not {project.id}")
    # Link maps and payloads made before a key rotation stay valid (link ids and serials
    # do not depend on the key), so any version up to the current one may be bound;
    # keys files must be current, which ``link`` checks with its own message.
    if header.kind == "keys" and header.key_version != project.key_version:
        raise LinkageError(f"{path}: keys file of key version {header.key_version}, made for "
                           f"another project key (project {project.id} is at key version "
                           f"{project.key_version}); the holder must prepare again")
    if not 1 <= header.key_version <= project.key_version or \
            header.binding != replace(project, key_version=header.key_version).binding:
        raise LinkageError(f"{path}: made for another project with id {project.id} (an "
                           "earlier or later creation of it, other parties' keys, or another "
                           "key version); refused")


def verify_envelope(path: str | Path, project: ProjectManifest, *,
                    expected_kind: str | None = None,
                    allowed_senders: Iterable[str] | None = None,
                    sha256: str | None = None) -> EnvelopeHeader:
    """Check an envelope's signed header and ciphertext without decrypting it.

    Needs no secret key: the sender's public key comes from ``project``. Refuses a file
    signed by anyone else, made for another project (or another creation of this one), or
    altered after signing. ``sha256`` is the digest of the file's bytes that the caller
    computed as it wrote them (the exchange and its clients, while streaming): it saves
    reading a multi-GB file a second time.
    """
    path = Path(path)
    header = _verify_header(path, project, expected_kind, allowed_senders)
    _check_ciphertext(path, header, sha256)
    return header


def _verify_header(path: Path, project: ProjectManifest, expected_kind: str | None,
                   allowed_senders: Iterable[str] | None) -> EnvelopeHeader:
    """:func:`verify_envelope` short of the ciphertext's digest: the caller checks that
    before anything decrypts the file (a worker does, on its own core)."""
    data, header = _read_header(path)
    allowed_set = set(project.parties if allowed_senders is None else allowed_senders)
    if header.sender not in project.parties:
        raise _not_allowed(path, header, project, expected_kind, allowed_set)
    _check_header_signature(path, data, project.party(header.sender))
    _check_binding(path, header, project)
    if expected_kind is not None and header.kind != expected_kind:
        raise LinkageError(f"{path}: is a {header.kind} file, expected {expected_kind}")
    if header.sender not in allowed_set:
        raise _not_allowed(path, header, project, expected_kind, allowed_set)
    return header


def _not_allowed(path: Path, header: EnvelopeHeader, project: ProjectManifest,
                 kind: str | None, allowed: set[str]) -> LinkageError:
    return LinkageError(f"{path}: sender '{header.sender}' may not send {kind or header.kind} "
                        f"files in project {project.id} (allowed: {', '.join(sorted(allowed))})")


class PendingSecret:
    """A party's keys being unlocked while the envelopes addressed to it are checked.

    Unlocking costs a deliberate scrypt derivation (a third of a second, on one core),
    and checking a ciphertext against its signed header needs no secret at all: handed
    to :func:`open_envelopes_to`, the workers hash the ciphertexts while the first of
    them to need the identity unlocks it (once; a failure is kept and raised to each).
    """

    def __init__(self, party_id: str, unlock: Callable[[], PartySecret]) -> None:
        self.id = party_id
        self._unlock = unlock
        self._lock = threading.Lock()
        self._secret: PartySecret | None = None
        self._error: BaseException | None = None

    def get(self) -> PartySecret:
        """The unlocked keys (unlocking them on the first call)."""
        with self._lock:
            if self._secret is None and self._error is None:
                try:
                    secret = self._unlock()
                    if secret.id != self.id:
                        raise LinkageError(f"unlocked the keys of '{secret.id}', not "
                                           f"'{self.id}'")
                    self._secret = secret
                except BaseException as exc:
                    self._error = exc
            if self._error is not None:
                raise self._error
            return self._secret


def _secret(reader: PartySecret | PendingSecret) -> PartySecret:
    return reader.get() if isinstance(reader, PendingSecret) else reader


@contextmanager
def _decrypted(path: Path, reader: PartySecret | PendingSecret, header: EnvelopeHeader,
               in_worker: bool = False) -> Iterator[tuple[dict[str, Any], _Member, str]]:
    """Decrypt a verified envelope to a private scratch file with a cap on every member:
    (manifest, data member, its SHA-256, hashed as it was decrypted).

    Decrypting to disk rather than memory keeps a receiver's memory flat for files of tens
    of millions of records; the plaintext is never larger than the signed ciphertext size.
    ``in_worker``: a worker process checks the ciphertext against the header's digest and
    only then decrypts (the caller has checked the header alone).
    """
    with private_dir("open") as scratch:
        plain_path = Path(scratch) / "plain.tar"
        try:
            if in_worker:
                # No identity in the request: the worker checks the ciphertext while the
                # keys may still be unlocking (scrypt), and gets the identity on its stdin
                # only once the ciphertext matched.
                answer = age_worker.Worker({
                    "op": "decrypt", "path": str(path),
                    "size": header.ciphertext_size, "sha256": header.ciphertext_sha256,
                    "limit": header.ciphertext_size, "plain_path": str(plain_path),
                    "threads": _stage_threads(),
                }).finish(lambda: str(_secret(reader).identity))
                members = [tuple(m) for m in answer["members"]]
                digest = answer["data_sha256"]
            else:
                members, digest = age_worker.decrypt(
                    str(path), str(_secret(reader).identity), header.ciphertext_size,
                    str(plain_path), _stage_threads())
        except _Refused as exc:
            raise LinkageError(str(exc)) from None
        except NotForUs:
            raise LinkageError(f"{path}: cannot be decrypted by party '{reader.id}' (not "
                               "encrypted to it, altered, or not an age file)") from None
        if len(members) != 2:
            raise LinkageError(f"{path}: not a pseudolink envelope (truncated archive)")
        (_, m_offset, m_size), (_, d_offset, d_size) = members
        try:
            with open(plain_path, "rb") as fh:
                fh.seek(m_offset)
                manifest = json.loads(fh.read(m_size))
        except (ValueError, UnicodeDecodeError):
            raise LinkageError(f"{path}: not a pseudolink envelope (unreadable manifest)"
                               ) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise LinkageError(f"{path}: not a pseudolink envelope (unknown manifest format)")
        yield manifest, _Member(plain_path, d_offset, d_size), digest


def _verify(path: Path, manifest: dict[str, Any], digest: str, signer: PartyPublic,
            header: EnvelopeHeader) -> None:
    """The inner manifest: signed by the header's sender, and saying what the header says
    (so a party cannot wrap someone else's plaintext under its own header)."""
    signature = manifest.get("signature")
    if not isinstance(signature, str):
        raise LinkageError(f"{path}: unsigned envelope refused")
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        signer.verifier().verify(bytes.fromhex(signature), canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        raise LinkageError(f"{path}: signature does not verify against the keys of "
                           f"'{signer.id}': the file was altered or not sent by it") from None
    for name in ("kind", "project", "binding", "nonce", "sender", "recipient"):
        if manifest.get(name) != getattr(header, name):
            raise LinkageError(f"{path}: its manifest's {name} differs from its signed "
                               "header's; refused")
    if digest != manifest.get("data_sha256"):
        raise LinkageError(f"{path}: data does not match its signed digest: altered")


def _table(path: Path, manifest: dict[str, Any], data: _Member) -> pa.Table:
    table = data.table()
    if table.num_rows != manifest.get("rows"):
        raise LinkageError(f"{path}: holds {table.num_rows} rows, its manifest says "
                           f"{manifest.get('rows')}")
    return table


def _verified(path: Path, reader: PartySecret | PendingSecret, expected_kind: str,
              project: ProjectManifest, allowed_senders: Iterable[str],
              ciphertext: bool = True) -> EnvelopeHeader:
    header = _verify_header(path, project, expected_kind, allowed_senders)
    if header.recipient != reader.id:
        raise LinkageError(f"{path}: addressed to '{header.recipient}', not '{reader.id}'")
    if ciphertext:
        _check_ciphertext(path, header)
    return header


def open_envelope(path: str | Path, reader: PartySecret, expected_kind: str,
                  project: ProjectManifest, allowed_senders: Iterable[str]) -> Envelope:
    """Verify an envelope's header, then decrypt it; or refuse it with a
    :class:`LinkageError`."""
    path = Path(path)
    header = _verified(path, reader, expected_kind, project, allowed_senders)
    with _decrypted(path, reader, header) as (manifest, data, digest):
        _verify(path, manifest, digest, project.party(header.sender), header)
        return Envelope(manifest, _table(path, manifest, data))


def open_envelope_to(path: str | Path, reader: PartySecret | PendingSecret,
                     expected_kind: str,
                     project: ProjectManifest, allowed_senders: Iterable[str],
                     dest: str | Path, *, in_worker: bool = False
                     ) -> tuple[dict[str, Any], Path]:
    """Like :func:`open_envelope`, but leave the verified data as a Parquet file at ``dest``.

    For inputs too large to hold in memory: an engine then scans the file from disk.
    ``in_worker`` checks the ciphertext and decrypts it in a worker process
    (:func:`open_envelopes_to` opens several side by side that way); ``reader`` may then
    be a :class:`PendingSecret`, unlocked only once the ciphertext matched.
    """
    path, dest = Path(path), Path(dest)
    if not in_worker:
        reader = _secret(reader)
    header = _verified(path, reader, expected_kind, project, allowed_senders,
                       ciphertext=not in_worker)
    with _decrypted(path, reader, header, in_worker) as (manifest, data, digest):
        _verify(path, manifest, digest, project.party(header.sender), header)
        data.copy_to(dest)
    rows = pq.read_metadata(dest).num_rows
    if rows != manifest.get("rows"):
        raise LinkageError(f"{path}: holds {rows} rows, its manifest says "
                           f"{manifest.get('rows')}")
    return manifest, dest


def _stage_threads() -> int:
    """The stage's threads (``PSEUDOLINK_THREADS``, else the usable cores): what one file's
    age encryption uses, and how many files are opened side by side."""
    from linkage.engines.resources import threads

    return threads()


def use_workers(paths: Sequence[str | Path]) -> bool:
    """Whether to open or seal these files in worker processes, side by side: more than
    one file, more than one core for the stage (``PSEUDOLINK_THREADS``), and enough bytes
    (:data:`WORKER_MIN_BYTES`) that starting the workers pays."""
    if len(paths) < 2 or _stage_threads() < 2:
        return False
    total = 0
    for path in paths:
        with suppress(OSError):  # a missing file is reported by the open, in its words
            total += os.stat(path).st_size
    return total >= WORKER_MIN_BYTES


def open_envelopes_to(items: Sequence[tuple[str | Path, str, Iterable[str], str | Path]],
                      reader: PartySecret | PendingSecret, project: ProjectManifest
                      ) -> list[tuple[dict[str, Any], Path]]:
    """:func:`open_envelope_to` over ``(path, expected kind, allowed senders, dest)`` items,
    results in their order; large ones side by side in worker processes, one per core
    (each file's SHA-256 and tar parsing hold one core's GIL: see :mod:`linkage.age_worker`).

    Each file is checked as one opened alone is (header, then ciphertext digest, then
    decryption), and the first refusal in item order is raised once all have stopped.
    With a :class:`PendingSecret` reader, the workers check the ciphertexts while the keys
    unlock; in process, the keys unlock first.
    """
    items = [(Path(p), kind, list(senders), Path(dest)) for p, kind, senders, dest in items]
    if not use_workers([p for p, *_ in items]):
        reader = _secret(reader)
        return [open_envelope_to(p, reader, kind, project, senders, dest)
                for p, kind, senders, dest in items]
    with ThreadPoolExecutor(max_workers=min(len(items), _stage_threads())) as pool:
        futures = [pool.submit(open_envelope_to, p, reader, kind, project, senders, dest,
                               in_worker=True) for p, kind, senders, dest in items]
        return [future.result() for future in futures]


def read_envelope(path: str | Path, keys_dir: str | Path, party_id: str, passphrase: str,
                  project: ProjectManifest | None = None) -> pa.Table:
    """Decrypt an envelope addressed to ``party_id`` and return its table, verified.

    With ``project``, the header is checked as :func:`verify_envelope` does. Without it,
    against the sender's public key file in ``keys_dir`` (the sender id is checked to be a
    party id first, never a path), and the project binding cannot be checked.
    """
    path = Path(path)
    reader = load_party_secret(keys_dir, party_id, passphrase)
    if project is not None:
        header = verify_envelope(path, project)
        signer = project.party(header.sender)
    else:
        data, header = _read_header(path)
        signer = load_party_public(keys_dir, header.sender)
        _check_header_signature(path, data, signer)
        _check_ciphertext(path, header)
    if header.recipient != reader.id:
        raise LinkageError(f"{path}: addressed to '{header.recipient}', not '{reader.id}'")
    with _decrypted(path, reader, header) as (manifest, data_member, digest):
        _verify(path, manifest, digest, signer, header)
        return _table(path, manifest, data_member)
