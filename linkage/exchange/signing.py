"""Party-signed HTTP requests (RFC 9421, HTTP Message Signatures) with Ed25519.

A party signs each request with the Ed25519 key it already signs envelopes with; the
exchange resolves the ``keyid`` (a party id) to that party's public key in the project's
manifest, so an exchange account is nothing a party must create or an operator can issue.
Every signature covers the method and the whole target URI (an upload's URI names the
file's SHA-256), the headers that shape an upload, a ``created`` time and a random
``nonce``; the exchange refuses a nonce it has seen (:class:`NonceBook`), so a captured
request cannot be sent again.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

#: Signed by every request, and required by the exchange.
BASE_COMPONENTS = ("@method", "@target-uri")
#: Signed whenever the request carries them: they decide what an upload writes.
BODY_COMPONENTS = ("content-length", "content-range", "envelope-header")
#: How old a signature may be, and how far a party's clock may run ahead.
MAX_AGE = dt.timedelta(minutes=5)
CLOCK_SKEW = dt.timedelta(seconds=30)
TAG = "pseudolink-exchange"


@dataclass
class Message:
    """The parts of a request RFC 9421 signs: method, absolute URL, header fields."""

    method: str
    url: str
    headers: dict[str, str]


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, private: Ed25519PrivateKey | None = None,
                 lookup: Callable[[str], Ed25519PublicKey | None] | None = None) -> None:
        self.key_id, self.private, self.lookup = key_id, private, lookup
        self.asked: str | None = None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if key_id != self.key_id or self.private is None:
            raise KeyError(key_id)
        return self.private

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        self.asked = key_id
        return self.lookup(key_id) if self.lookup else None


def sign_request(method: str, url: str, headers: Mapping[str, str], *, party_id: str,
                 key: Ed25519PrivateKey) -> dict[str, str]:
    """The headers to send: ``headers`` plus ``Signature-Input`` and ``Signature``."""
    message = Message(method.upper(), url, dict(headers))
    lower = {name.lower() for name in message.headers}
    covered = [*BASE_COMPONENTS, *(c for c in BODY_COMPONENTS if c in lower)]
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
                      key_resolver=_OneKey(party_id, key)).sign(
        message, key_id=party_id, created=dt.datetime.now(dt.UTC),
        nonce=secrets.token_urlsafe(18), tag=TAG, covered_component_ids=covered)
    return message.headers


class _Verifier(HTTPMessageVerifier):
    max_clock_skew = CLOCK_SKEW


class SignatureRefused(Exception):
    """A request whose signature does not hold; ``party`` is the claimed key id, if any."""

    def __init__(self, reason: str, party: str | None = None) -> None:
        super().__init__(reason)
        self.party = party


@dataclass(frozen=True)
class Signed:
    """A verified request: who signed it, and its nonce and creation time."""

    party: str
    nonce: str
    created: int


def verify_request(message: Message, lookup: Callable[[str], Ed25519PublicKey | None]
                   ) -> Signed:
    """Check ``message``'s signature against the key ``lookup`` gives for its key id.

    Refuses (:class:`SignatureRefused`) an unsigned request, an unknown key id, a signature
    without created time or nonce, one older than :data:`MAX_AGE`, and one that does not
    cover the method, the target URI and every upload header the request carries. Replay
    is the caller's check, with the returned nonce.
    """
    resolver = _OneKey("", lookup=lookup)
    present = {name.lower() for name in message.headers}
    required = [*BASE_COMPONENTS, *(c for c in BODY_COMPONENTS if c in present)]
    if "signature" not in present or "signature-input" not in present:
        raise SignatureRefused("unsigned request: sign it with the party's Ed25519 key "
                               "(RFC 9421 Signature and Signature-Input headers)")
    try:
        result, = _Verifier(signature_algorithm=algorithms.ED25519,
                            key_resolver=resolver).verify(
            message, max_age=MAX_AGE, expect_tag=TAG, require_components=required)
    except InvalidSignature as exc:
        reason = str(exc) or exc.__class__.__name__
        if resolver.asked is not None and lookup(resolver.asked) is None:
            reason = f"'{resolver.asked}' is not a party of this project"
        raise SignatureRefused(f"signature refused: {reason}", resolver.asked) from None
    except Exception as exc:  # a malformed header the library rejects in its own way
        raise SignatureRefused(f"signature refused: {exc}", resolver.asked) from None
    params = result.parameters
    if not isinstance(params.get("nonce"), str) or len(str(params["nonce"])) < 16:
        raise SignatureRefused("signature refused: no nonce (at least 16 characters)",
                               resolver.asked)
    return Signed(str(params["keyid"]), str(params["nonce"]), int(params["created"]))
