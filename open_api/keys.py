"""API keys as the API sees them: a secret in, a verdict out; the catalog keeps the keys.

Keys are issued and stored (hashed) by the catalog; the API asks only
``check_api_key(secret)``. A source that cannot check keys (an in-memory source, an older
catalog) makes every key unregistered, so no key-protected face is ever open by accident.

Guessing keys is throttled per client address when the registry can (the catalog can):
past the catalog's limit of unknown keys from one address, that address gets ``locked``
verdicts, whatever it sends, until its lockout ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from urllib.parse import unquote

#: The scope a key needs for the open-data faces.
OPEN_DATA_SCOPE = "open_data"


class KeyCheck(Protocol):
    """What ``catalog.Catalog.check_api_key`` answers (``catalog.ApiKeyCheck``)."""

    @property
    def status(self) -> str: ...  # valid | unknown | expired | revoked
    @property
    def owner(self) -> str | None: ...
    @property
    def key_id(self) -> str | None: ...
    @property
    def daily_quota(self) -> int | None: ...
    @property
    def scopes(self) -> Sequence[str]: ...


@runtime_checkable
class KeyRegistry(Protocol):
    def check_api_key(self, secret: str) -> KeyCheck: ...


@dataclass(frozen=True)
class UnknownKey:
    status: str = "unknown"
    owner: str | None = None
    key_id: str | None = None
    daily_quota: int | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LockedOut:
    """The verdict for an address locked out after too many unknown keys."""

    until: datetime
    status: str = "locked"
    owner: str | None = None
    key_id: str | None = None
    daily_quota: int | None = None
    scopes: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return (f"too many unknown API keys from this address: locked out until "
                f"{self.until:%Y-%m-%d %H:%M} UTC")


@runtime_checkable
class AddressThrottle(Protocol):
    """A registry that counts unknown keys per client address (``catalog.Catalog``)."""

    def address_locked_until(self, address: str | None) -> datetime | None: ...
    def record_address_failure(self, address: str | None) -> None: ...


class NoKeys:
    """The registry of a server without a catalog: it knows no key."""

    def check_api_key(self, secret: str) -> KeyCheck:
        return UnknownKey()


def resolve_keys(source: object, keys: KeyRegistry | None) -> KeyRegistry:
    """The registry given, else the source itself when it checks keys, else :class:`NoKeys`."""
    if keys is not None:
        return keys
    if isinstance(source, KeyRegistry):
        return source
    return NoKeys()


def check_secret(keys: KeyRegistry, secret: str, address: str | None = None) -> KeyCheck:
    """Check a key as sent, then once URL-decoded; throttled per client ``address``.

    The portal hands out each key in two spellings ("encoding" and "decoding"), and clients
    often send the encoded one through a library that encodes it again; both must work.
    """
    throttle = keys if address and isinstance(keys, AddressThrottle) else None
    if throttle is not None:
        until = throttle.address_locked_until(address)
        if until is not None:
            return LockedOut(until)
    verdict = keys.check_api_key(secret)
    if verdict.status == "unknown":
        decoded = unquote(secret)
        if decoded != secret:
            verdict = keys.check_api_key(decoded)
    if verdict.status == "unknown" and throttle is not None:
        throttle.record_address_failure(address)
    return verdict
