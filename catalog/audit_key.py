"""The catalog's audit signing key: an Ed25519 key the database never holds.

Anyone who can write to the catalog's database can drop the append-only triggers,
rewrite entries and recompute every hash and the chain head; the hash chain alone
cannot tell. Signed checkpoints (``catalog.checkpoints``) can, as long as the
signing key is somewhere the database owner cannot reach. It lives in the
workspace's ``keys/``: the private half sealed under the workspace passphrase
(``PSEUDOLINK_PASSPHRASE``, the one that seals the party keys), with the same
construction as the party keys (scrypt n=2**17, r=8, p=1, then AES-256-GCM with the
header as associated data), so a copied workspace without the passphrase yields
nothing; the public half is a plain hex file that verification alone needs and
that an auditor should keep a copy of (its fingerprint is printed on creation).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from catalog.errors import CatalogError

PRIVATE_FILE = "audit-signing.key"
PUBLIC_FILE = "audit-signing.pub"

_MAGIC = b"PLAUDITKEY\n"
_LOG2_N, _R, _P = 17, 8, 1
_HEADER = struct.Struct(f">{len(_MAGIC)}sBBBB16s12s")


def _kek(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(
        passphrase.encode("utf-8"))


def fingerprint(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key: short enough to read aloud."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class AuditSigner:
    """The private key in memory, only in a process that writes checkpoints."""

    key: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def __repr__(self) -> str:  # never let a private key reach a log
        return f"AuditSigner(fingerprint={self.fingerprint!r})"


def verifies(public: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def create_audit_key(keys_dir: Path, passphrase: str) -> AuditSigner:
    """Generate the key pair in ``keys_dir``; refuses to replace an existing one.

    Replacing the key would orphan every checkpoint signed so far, which is what an
    operator covering a rewrite would want; a new key is a deliberate, manual act.
    """
    if not passphrase:
        raise CatalogError("an empty passphrase would leave the audit signing key unprotected")
    keys_dir = Path(keys_dir)
    private_path, public_path = keys_dir / PRIVATE_FILE, keys_dir / PUBLIC_FILE
    if private_path.exists() or public_path.exists():
        raise CatalogError(f"{keys_dir} already holds an audit signing key; checkpoints "
                           "signed with it would no longer verify if it were replaced")
    keys_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _HEADER.pack(_MAGIC, 1, _LOG2_N, _R, _P, salt, nonce)
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    sealed = header + AESGCM(_kek(passphrase, salt, _LOG2_N, _R, _P)).encrypt(
        nonce, raw, header)
    _write_new(private_path, sealed, 0o600)
    public_hex = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    _write_new(public_path, (public_hex + "\n").encode(), 0o644)
    return AuditSigner(key)


def load_audit_signer(keys_dir: Path, passphrase: str) -> AuditSigner:
    """Unlock the private key; a wrong passphrase or altered file is a CatalogError."""
    path = Path(keys_dir) / PRIVATE_FILE
    if not path.exists():
        raise CatalogError(f"no audit signing key at {path}; create it with "
                           "`pseudolink audit key create`")
    data = path.read_bytes()
    if len(data) < _HEADER.size + 16 or not data.startswith(_MAGIC):
        raise CatalogError(f"{path} is not an audit signing key file")
    _magic, version, log2_n, r, p, salt, nonce = _HEADER.unpack_from(data)
    if version != 1 or not (1 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
        raise CatalogError(f"{path}: unsupported key file parameters")
    header = data[:_HEADER.size]
    try:
        raw = AESGCM(_kek(passphrase, salt, log2_n, r, p)).decrypt(
            nonce, data[_HEADER.size:], header)
    except InvalidTag:
        raise CatalogError(f"{path}: wrong passphrase (or a damaged key file); set "
                           "PSEUDOLINK_PASSPHRASE to the workspace passphrase") from None
    signer = AuditSigner(Ed25519PrivateKey.from_private_bytes(raw))
    public_path = Path(keys_dir) / PUBLIC_FILE
    if public_path.exists() and fingerprint(load_audit_public(public_path)) != \
            signer.fingerprint:
        raise CatalogError(f"{public_path} does not belong to {path}: someone replaced it")
    return signer


def load_audit_public(path: Path) -> Ed25519PublicKey:
    """The public key from its hex file (the workspace's, or an auditor's own copy)."""
    path = Path(path)
    try:
        return Ed25519PublicKey.from_public_bytes(
            bytes.fromhex(path.read_text(encoding="ascii").strip()))
    except FileNotFoundError:
        raise CatalogError(f"no audit public key at {path}") from None
    except (ValueError, UnicodeDecodeError):
        raise CatalogError(f"{path} is not an audit public key (64 hex digits)") from None


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write under a temporary name, then link into place (never over an existing file)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
