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
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
KINDS = ("keys", "payload", "linkmap")


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
    if kind not in KINDS:
        raise ValueError(f"unknown envelope kind {kind!r}")
    data = io.BytesIO()
    pq.write_table(table, data, compression="zstd")
    data_bytes = data.getvalue()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "kind": kind,
        "project": project_id,
        "sender": sender.id,
        "recipient": recipient.id,
        "data_sha256": hashlib.sha256(data_bytes).hexdigest(),
        "rows": table.num_rows,
        "columns": table.column_names,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    manifest["signature"] = sender.signer.sign(canonical_json(manifest)).hex()
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, payload in ((MANIFEST_MEMBER, canonical_json(manifest)),
                              (DATA_MEMBER, data_bytes)):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(payload))
    plain.seek(0)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        pyrage.encrypt_io(plain, out, [recipient.recipient()])
    return manifest


def _decrypt(path: Path, reader: PartySecret) -> tuple[dict[str, Any], bytes]:
    """Decrypt and unpack; the manifest is parsed but not yet trusted."""
    if not path.exists():
        raise LinkageError(f"{path}: file not found")
    plain = io.BytesIO()
    try:
        with open(path, "rb") as fh:
            pyrage.decrypt_io(fh, plain, [reader.identity])
    except (pyrage.DecryptError, OSError):
        # pyrage reports a damaged stream as OSError, a foreign recipient as DecryptError.
        raise LinkageError(f"{path}: cannot be decrypted by party '{reader.id}' (not encrypted "
                           "to it, altered, or not an age file)") from None
    plain.seek(0)
    try:
        with tarfile.open(fileobj=plain, mode="r:") as tar:
            members = {m.name: m for m in tar.getmembers()}
            if set(members) != {MANIFEST_MEMBER, DATA_MEMBER}:
                raise LinkageError(f"{path}: not a pseudolink envelope (holds "
                                   f"{sorted(members)})")
            manifest_bytes = tar.extractfile(members[MANIFEST_MEMBER]).read()
            data = tar.extractfile(members[DATA_MEMBER]).read()
        manifest = json.loads(manifest_bytes)
    except (tarfile.TarError, ValueError, AttributeError):
        raise LinkageError(f"{path}: not a pseudolink envelope") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LinkageError(f"{path}: not a pseudolink envelope (unknown manifest format)")
    return manifest, data


def _verify(path: Path, manifest: dict[str, Any], data: bytes, signer: PartyPublic) -> None:
    signature = manifest.get("signature")
    if not isinstance(signature, str):
        raise LinkageError(f"{path}: unsigned envelope refused")
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        signer.verifier().verify(bytes.fromhex(signature), canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        raise LinkageError(f"{path}: signature does not verify against the keys of "
                           f"'{signer.id}': the file was altered or not sent by it") from None
    if hashlib.sha256(data).hexdigest() != manifest.get("data_sha256"):
        raise LinkageError(f"{path}: data does not match its signed digest: altered")


def _table(path: Path, manifest: dict[str, Any], data: bytes) -> pa.Table:
    table = pq.read_table(io.BytesIO(data))
    if table.num_rows != manifest.get("rows"):
        raise LinkageError(f"{path}: holds {table.num_rows} rows, its manifest says "
                           f"{manifest.get('rows')}")
    return table


def open_envelope(path: str | Path, reader: PartySecret, expected_kind: str,
                  project: ProjectManifest, allowed_senders: Iterable[str]) -> Envelope:
    """Decrypt and verify an envelope, or refuse it with a :class:`LinkageError`."""
    path = Path(path)
    manifest, data = _decrypt(path, reader)
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
    _verify(path, manifest, data, project.party(sender))
    return Envelope(manifest, _table(path, manifest, data))


def read_envelope(path: str | Path, keys_dir: str | Path, party_id: str, passphrase: str,
                  project: ProjectManifest | None = None) -> pa.Table:
    """Decrypt an envelope addressed to ``party_id`` and return its table, verified.

    The signature is checked against the sender's keys in ``project`` when given, else
    against the sender's public key file in ``keys_dir``.
    """
    path = Path(path)
    reader = load_party_secret(keys_dir, party_id, passphrase)
    manifest, data = _decrypt(path, reader)
    sender = str(manifest.get("sender"))
    signer = project.party(sender) if project else load_party_public(keys_dir, sender)
    _verify(path, manifest, data, signer)
    return _table(path, manifest, data)
