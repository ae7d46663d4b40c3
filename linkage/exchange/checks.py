"""What the exchange checks of an envelope, without any secret key.

One function over :func:`linkage.envelope.verify_envelope`: the sender's signature over
the header, the project binding, the routing table, and the ciphertext's digest and size.
The exchange cannot decrypt, so it cannot check the contents; the recipient does, with the
same header and its own key, after download.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from linkage.envelope import (
    MAX_HEADER_BYTES,
    EnvelopeHeader,
    header_path,
    verify_envelope,
)
from linkage.errors import LinkageError
from linkage.exchange.routes import ROUTES
from linkage.keys.project import ProjectManifest


def encode_header(raw: bytes) -> str:
    """A signed header as it travels in the ``Envelope-Header`` HTTP field."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_header(field: str) -> tuple[bytes, EnvelopeHeader]:
    """The raw header bytes and their parse (not yet verified); ValueError if malformed."""
    if len(field) > MAX_HEADER_BYTES * 4 // 3 + 4:
        raise ValueError(f"larger than {MAX_HEADER_BYTES} bytes")
    raw = base64.urlsafe_b64decode(field + "=" * (-len(field) % 4))
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return raw, EnvelopeHeader.from_dict(data)


def check_envelope(path: Path, raw_header: bytes, project: ProjectManifest,
                   header: EnvelopeHeader, sha256: str | None = None) -> EnvelopeHeader:
    """Verify a staged upload at ``path`` with its signed header; LinkageError if refused.

    ``sha256``: the digest of the bytes as they were written (else the file is read).
    The header is written beside the file as ``verify_envelope`` reads it, then removed.
    """
    sig = header_path(path)
    sig.write_bytes(raw_header)
    try:
        route = ROUTES.get(header.kind)
        if route is None:
            raise LinkageError(f"files of kind {header.kind!r} do not travel through the "
                               "exchange")
        senders = [pid for pid, p in project.parties.items() if p.role == route.sender_role]
        return verify_envelope(path, project, expected_kind=header.kind,
                               allowed_senders=senders, sha256=sha256)
    finally:
        sig.unlink(missing_ok=True)
