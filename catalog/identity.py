"""Passwords and API keys: what is stored is never enough to log in or call the API.

Passwords are chosen by people, so they are guessable: they are stored as argon2id
hashes (memory-hard, salted), which make each guess against a stolen table costly.

API keys are 256-bit random tokens minted here. Nobody can guess one, so a slow hash
would protect nothing and would cost milliseconds on every API call: a plain SHA-256
of the token is stored, and the token itself is shown once, when it is issued.
The key id (``plk_<12 hex>``) prefixes the token; it names the key in logs and
listings and lets the lookup go by primary key, then compare hashes in constant time.

``PSEUDOLINK_PASSWORD_HASHING`` chooses the argon2 cost. Unset or ``strong``: RFC 9106's
low-memory profile (argon2-cffi's default: 64 MiB, 3 passes, 4 lanes), wherever real
passwords live. ``test-only-insecure``: argon2's cheapest parameters, so that test suites
which set and check passwords hundreds of times do not spend a minute hashing. A hash
carries its own parameters, so either setting verifies either kind, and a login under
the strong setting rehashes a cheap hash (see ``needs_rehash``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from catalog.errors import CatalogError

KEY_PREFIX = "plk_"
MIN_PASSWORD_LENGTH = 12
API_KEY_STATUSES = ("valid", "unknown", "expired", "revoked")

HASHING_SETTING = "PSEUDOLINK_PASSWORD_HASHING"
_HASHING_PROFILES = {"strong": profiles.RFC_9106_LOW_MEMORY,
                     "test-only-insecure": profiles.CHEAPEST}


@dataclass(frozen=True)
class UserInfo:
    id: str
    role: str
    organisation_id: str | None
    display_name: str
    active: bool


@dataclass(frozen=True)
class ApiKeyCheck:
    """The verdict on a presented API key; only ``valid`` grants anything."""

    status: str
    owner: str | None = None
    key_id: str | None = None
    daily_quota: int | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)
    expires_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listings show it: never the secret, which is not stored."""

    key_id: str
    owner: str
    scopes: tuple[str, ...]
    daily_quota: int | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None


def hashing_profile() -> str:
    """The argon2 cost named by ``PSEUDOLINK_PASSWORD_HASHING`` (``strong`` when unset).

    >>> hashing_profile() in ("strong", "test-only-insecure")
    True
    """
    name = os.environ.get(HASHING_SETTING, "").strip() or "strong"
    if name not in _HASHING_PROFILES:
        raise CatalogError(f"{HASHING_SETTING}={name!r} is not one of "
                           f"{', '.join(_HASHING_PROFILES)}")
    return name


@cache
def _hasher_for(profile: str) -> tuple[PasswordHasher, str]:
    """The hasher for a profile, and a hash of a random secret made with it.

    The dummy hash is verified against when the user is unknown, so that a miss takes
    as long as a hit and response times do not reveal which user names exist.
    """
    hasher = PasswordHasher.from_parameters(_HASHING_PROFILES[profile])
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def _hasher() -> PasswordHasher:
    return _hasher_for(hashing_profile())[0]


def hash_password(user_id: str, password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CatalogError(f"password for user {user_id!r} is too short: at least "
                           f"{MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password or password.lower() == user_id.lower():
        raise CatalogError(f"password for user {user_id!r} must not be the user name "
                           "or start or end with spaces")
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; unknown users cost as much as known ones."""
    try:
        hasher, dummy = _hasher_for(hashing_profile())
        return hasher.verify(stored_hash or dummy, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (key id, secret to hand out once, hash to store).

    >>> key_id, secret, digest = new_api_key()
    >>> secret.startswith(key_id + "."), len(digest)
    (True, 64)
    """
    key_id = KEY_PREFIX + secrets.token_hex(6)
    secret = f"{key_id}.{secrets.token_urlsafe(32)}"
    return key_id, secret, secret_digest(secret)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_id_of(secret: str) -> str | None:
    """The key id a presented secret claims, or None if it is not shaped like one of ours.

    >>> key_id_of("plk_0123456789ab.token"), key_id_of("Bearer nonsense")
    ('plk_0123456789ab', None)
    """
    key_id, dot, token = secret.partition(".")
    if not dot or not token or not key_id.startswith(KEY_PREFIX) or len(key_id) > 32:
        return None
    return key_id


def digests_match(stored: str, presented_secret: str) -> bool:
    return hmac.compare_digest(stored, secret_digest(presented_secret))
