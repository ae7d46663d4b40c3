"""Signed checkpoints of the audit chain, kept in an append-only file outside the database.

One line per checkpoint: the chain's length (seq) and head hash at that moment, the
time, the signing key's fingerprint and an Ed25519 signature over all of it. The
database owner can recompute every hash of a rewritten chain, but not these
signatures, so a rewritten, truncated or forged chain no longer matches a line signed
before the change. Lines are appended with ``O_APPEND`` in one write each (whole lines,
never interleaved, even from several processes), so the file suits WORM storage, a
log shipper or a witness that keeps its own copy; ``audit verify --checkpoints`` reads
such a copy.

Line format (canonical JSON, ``sig`` over the canonical JSON of the other fields)::

    {"at":"2026-12-04T16:30:00+00:00","head":"<64 hex>","key":"<16 hex>","seq":42,
     "sig":"<128 hex>","v":1}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from catalog.audit_key import AuditSigner, fingerprint, verifies
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.hashchain import canonical_json

FILE_NAME = "audit-checkpoints.jsonl"
_FIELDS = ("at", "head", "key", "seq", "v")


@dataclass(slots=True)
class Checkpoint:
    """One line: it claims the chain had ``head`` as the hash of entry ``seq``.

    Its signature is checked when the verdict depends on it (``valid``), not on reading:
    a line that agrees with the chain below the highest agreeing one claims nothing the
    highest does not already prove (each hash covers every entry before it), so checking
    every line would cost one Ed25519 verification per audited write for nothing.
    """

    seq: int
    head: str
    at: str
    line: int
    file_name: str
    signature: bytes = field(repr=False)
    public: Ed25519PublicKey = field(repr=False)
    checked: bool | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"checkpoint line {self.line} of {self.file_name} ({self.at})"

    @property
    def valid(self) -> bool:
        if self.checked is None:
            message = _signed_part(self.seq, self.head, self.at, fingerprint(self.public))
            self.checked = verifies(self.public, self.signature, message)
        return self.checked


@dataclass(frozen=True)
class Anchor:
    """What a checkpoint-writing catalog needs: the signer and the file it appends to."""

    signer: AuditSigner
    path: Path


@dataclass(frozen=True)
class CheckpointFile:
    """What verification needs: the file (or a witness's copy) and the public key."""

    path: Path
    public: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)


def _signed_part(seq: int, head: str, at: str, key: str) -> bytes:
    return canonical_json({"at": at, "head": head, "key": key, "seq": seq,
                           "v": 1}).encode("utf-8")


def append_checkpoint(path: Path, signer: AuditSigner, seq: int, head: str) -> None:
    """Append one signed line; one ``write`` on an ``O_APPEND`` descriptor, then fsync."""
    at = utcnow().isoformat()
    body = _signed_part(seq, head, at, signer.fingerprint)
    line = canonical_json({**json.loads(body), "sig": signer.sign(body).hex()}) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        data = line.encode("utf-8")
        if os.write(fd, data) != len(data):
            raise CatalogError(f"{path}: checkpoint line only partly written (disk full?)")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoints(source: CheckpointFile) -> tuple[list[Checkpoint], list[str]]:
    """Every well-formed line under the audit key, and a problem for every other line."""
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    expected_key = fingerprint(source.public)
    for number, text in _lines(source.path):
        where = f"checkpoint line {number} of {source.path.name}"
        try:
            doc = json.loads(text)
            seq, head, at, key = int(doc["seq"]), str(doc["head"]), str(doc["at"]), \
                str(doc["key"])
            signature = bytes.fromhex(doc["sig"])
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append(f"{where}: not a checkpoint line (the file was edited)")
            continue
        if key != expected_key:
            problems.append(f"{where}: signed by key {key}, not the audit key {expected_key}")
            continue
        checkpoints.append(Checkpoint(seq=seq, head=head, at=at, line=number,
                                      file_name=source.path.name, signature=signature,
                                      public=source.public))
    return checkpoints, problems


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            for number, text in enumerate(stream, start=1):
                if text.strip():
                    yield number, text
    except FileNotFoundError:
        return
