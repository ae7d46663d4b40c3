"""Each party's two key pairs: an age identity to receive files, an Ed25519 key to sign them.

The private halves live in one file encrypted under the passphrase (scrypt with fixed
parameters, then AES-256-GCM; see :mod:`linkage.keys.secret_file`), so a copied workspace
without the passphrase yields nothing; the public halves are plain JSON that other parties
import into their projects. Files written by earlier versions with age's passphrase mode
(``ID.secret.age``) still open, and are rewritten in the current format when they do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from linkage.errors import LinkageError
from linkage.files import write_atomic
from linkage.keys import session_cache
from linkage.keys.passphrase import check_passphrase
from linkage.keys.secret_file import WrongPassphrase, open_secret, seal_secret

ROLES = ("holder", "key_manager", "combiner")
SECRET_SUFFIX = ".secret.key"
#: Written by pseudolink before 0.2: age passphrase encryption, its scrypt cost set by timing.
LEGACY_SUFFIX = ".secret.age"


@dataclass(frozen=True)
class PartyPublic:
    """What every other party may know about a party."""

    id: str
    role: str
    age_recipient: str
    ed25519_public: str  # hex

    def recipient(self) -> pyrage.x25519.Recipient:
        return pyrage.x25519.Recipient.from_str(self.age_recipient)

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.ed25519_public))

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role, "age_recipient": self.age_recipient,
                "ed25519_public": self.ed25519_public}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> PartyPublic:
        return cls(data["id"], data["role"], data["age_recipient"], data["ed25519_public"])


@dataclass(frozen=True)
class PartySecret:
    """A party's private keys, held in memory only while it works."""

    public: PartyPublic
    identity: pyrage.x25519.Identity
    signer: Ed25519PrivateKey

    @property
    def id(self) -> str:
        return self.public.id

    def __repr__(self) -> str:  # never let a private key reach a log
        return f"PartySecret(id={self.id!r}, role={self.public.role!r})"


def _parties_dir(keys_dir: Path) -> Path:
    return Path(keys_dir) / "parties"


def secret_path(keys_dir: str | Path, party_id: str) -> Path:
    """Where a party's private keys are kept (the current format)."""
    return _parties_dir(Path(keys_dir)) / f"{party_id}{SECRET_SUFFIX}"


def _legacy_path(keys_dir: str | Path, party_id: str) -> Path:
    return _parties_dir(Path(keys_dir)) / f"{party_id}{LEGACY_SUFFIX}"


def _check_id(party_id: str) -> None:
    if not party_id or not all(ch.isalnum() or ch in "-_." for ch in party_id) \
            or party_id.startswith("."):
        raise LinkageError(f"party id '{party_id}' may use only letters, digits, '-', '_', '.'")


def create_party(keys_dir: str | Path, party_id: str, role: str, passphrase: str) -> PartyPublic:
    """Generate a party's keys under ``keys_dir/parties``; an existing party is loaded instead.

    Loading (rather than overwriting) an existing party keeps files already encrypted to it
    readable, and checks that the passphrase still opens it.
    """
    _check_id(party_id)
    if role not in ROLES:
        raise LinkageError(f"role '{role}' is not one of {', '.join(ROLES)}")
    directory = _parties_dir(Path(keys_dir))
    public_path = directory / f"{party_id}.public.json"
    secret = secret_path(keys_dir, party_id)
    if public_path.exists() or secret.exists() or _legacy_path(keys_dir, party_id).exists():
        existing = load_party_secret(keys_dir, party_id, passphrase).public
        if existing.role != role:
            raise LinkageError(f"party '{party_id}' already exists with role {existing.role}, "
                               f"not {role}")
        return existing
    # Only new keys meet the floor: refusing to open keys made before it would lock a party
    # out of its own files.
    check_passphrase(passphrase)
    directory.mkdir(parents=True, exist_ok=True)
    identity = pyrage.x25519.Identity.generate()
    signer = Ed25519PrivateKey.generate()
    public = PartyPublic(
        party_id, role, str(identity.to_public()),
        signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
    )
    plain = json.dumps({
        "id": party_id, "role": role, "age_identity": str(identity),
        "ed25519_private": signer.private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex(),
    }).encode()
    write_atomic(secret, seal_secret(plain, passphrase), mode=0o600)
    write_atomic(public_path, json.dumps(public.to_dict(), indent=2).encode() + b"\n")
    return public


def load_party_public(keys_dir: str | Path, party_id: str) -> PartyPublic:
    path = _parties_dir(Path(keys_dir)) / f"{party_id}.public.json"
    if not path.exists():
        raise LinkageError(
            f"no public keys for party '{party_id}' in {Path(keys_dir)}; create them with "
            f"`pseudolink party create --id {party_id} --role <holder|key_manager|combiner>` "
            f"or copy {path.name} from that party")
    try:
        return PartyPublic.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError) as exc:
        raise LinkageError(f"{path}: not a party public key file ({exc})") from None


def load_party_secret(keys_dir: str | Path, party_id: str, passphrase: str) -> PartySecret:
    """Unlock a party's private keys; a wrong passphrase is a :class:`LinkageError`.

    A key file in the old age format is rewritten in the current one once it opens.
    """
    path, legacy = secret_path(keys_dir, party_id), _legacy_path(keys_dir, party_id)
    if not path.exists() and legacy.exists():
        return _migrate(legacy, path, passphrase)
    if not path.exists():
        raise LinkageError(
            f"this workspace holds no private keys for party '{party_id}' ({path} is missing); "
            f"create them with `pseudolink party create --id {party_id} --role ...`")
    # scrypt costs a third of a second by design; within one process a file is unlocked once,
    # and across commands once per PSEUDOLINK_KEY_CACHE_SECONDS where that is set.
    try:
        seconds = session_cache.cache_seconds()
    except ValueError as exc:
        raise LinkageError(str(exc)) from None
    sealed = path.read_bytes()
    try:
        if seconds:
            return _unlock_cached(path, sealed, passphrase, seconds)
        return _unlock(sealed, passphrase)
    except WrongPassphrase:
        raise _wrong_passphrase(path) from None
    except ValueError as exc:
        raise LinkageError(f"{path}: {exc}") from None


def _unlock_cached(path: Path, sealed: bytes, passphrase: str, seconds: int) -> PartySecret:
    """From the kernel keyring when this very file was unlocked there lately (the passphrase
    then goes unchecked, as with ssh-agent); else unlock it and leave it there."""
    plain = session_cache.fetch(path, sealed)
    if plain is None:
        plain = open_secret(sealed, passphrase)
        session_cache.store(path, sealed, plain, seconds)
    return _parse(plain)


def _wrong_passphrase(path: Path) -> LinkageError:
    return LinkageError(f"{path}: wrong passphrase (or a damaged key file); set "
                        "PSEUDOLINK_PASSPHRASE to the passphrase this party was created with")


def _migrate(legacy: Path, path: Path, passphrase: str) -> PartySecret:
    """Open an age-passphrase key file and replace it with the current format."""
    try:
        plain = pyrage.passphrase.decrypt(legacy.read_bytes(), passphrase)
    except pyrage.DecryptError:
        raise _wrong_passphrase(legacy) from None
    secret = _parse(plain)
    write_atomic(path, seal_secret(plain, passphrase), mode=0o600)
    legacy.unlink()
    return secret


@lru_cache(maxsize=16)
def _unlock(sealed: bytes, passphrase: str) -> PartySecret:
    return _parse(open_secret(sealed, passphrase))


def _parse(plain: bytes) -> PartySecret:
    data = json.loads(plain)
    identity = pyrage.x25519.Identity.from_str(data["age_identity"])
    signer = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(data["ed25519_private"]))
    public = PartyPublic(
        data["id"], data["role"], str(identity.to_public()),
        signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
    )
    return PartySecret(public, identity, signer)
