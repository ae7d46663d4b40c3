"""Project setup through the exchange: the registered ``project.json`` out to every party,
each holder's signed acceptance and sealed key share in, and out to every party.

These are not envelopes. The manifest is public; an acceptance is a statement signed with
the holder's Ed25519 key; a share is sealed (age) to the holders only, so the exchange, the
key manager and the agency relay shares they cannot open (DESIGN 6). The exchange checks
what needs no secret (:data:`~linkage.exchange.routes.SETUP_ROUTES`: only a holder sends,
only its own acceptance; its signature under the registered key; that it accepts exactly
the registered manifest; that the share is the one it signed) and hands them to parties of
the project only. Each party checks them again against its own copy of the manifest
(:func:`check_acceptance`), because an exchange could be dishonest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import BigInteger, Column, Integer, String, Table, Text, insert, select

from linkage.errors import LinkageError
from linkage.exchange.state import ExchangeState, metadata
from linkage.keys.acceptance import Acceptance, acceptance_digest
from linkage.keys.project import ProjectManifest

#: An acceptance is a few hundred bytes and a share under a kilobyte per holder.
MAX_SETUP_BYTES = 64 << 10

acceptances = Table(
    "exchange_acceptances", metadata,
    Column("project", String(200), primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("key_version", Integer, primary_key=True),
    Column("acceptance", Text, nullable=False),
    Column("share", Text, nullable=False),  # base64 of the sealed share
    Column("created_at", BigInteger, nullable=False),
)


def check_acceptance(manifest: ProjectManifest, acceptance: Acceptance, share: bytes) -> None:
    """Refuse (LinkageError, naming why) an acceptance that is not ``manifest``'s holder's
    signed acceptance of exactly this manifest, or a share other than the one it signed."""
    holder = acceptance.holder
    party = manifest.parties.get(holder)
    if party is None or party.role != "holder":
        raise LinkageError(f"'{holder}' is not a holder of project {manifest.id}")
    try:
        party.verifier().verify(bytes.fromhex(acceptance.signature), acceptance.signed_bytes())
    except (InvalidSignature, ValueError):
        raise LinkageError(f"the acceptance of '{holder}' is not signed by its key") from None
    if acceptance.project != manifest.id or acceptance.key_version != manifest.key_version:
        raise LinkageError(f"the acceptance of '{holder}' is for project "
                           f"{acceptance.project} key version {acceptance.key_version}, not "
                           f"{manifest.id} key version {manifest.key_version}")
    if acceptance.digest != acceptance_digest(manifest):
        raise LinkageError(f"'{holder}' accepted other facts than this project.json (another "
                           "spec, parties or creation): every holder accepts the same manifest")
    if hashlib.sha256(share).hexdigest() != acceptance.share_sha256:
        raise LinkageError(f"the key share sent with the acceptance of '{holder}' is not the "
                           "one it signed")


def parse_acceptance(data: Any) -> tuple[Acceptance, bytes]:
    """An acceptance and its sealed share from their JSON form; ValueError if malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("acceptance"), dict):
        raise ValueError("expected {'acceptance': {...}, 'share': BASE64}")
    fields = data["acceptance"]
    try:
        acceptance = Acceptance(str(fields["project"]), str(fields["holder"]),
                                int(fields["key_version"]), str(fields["digest"]),
                                str(fields["share_sha256"]), str(fields["accepted_at"]),
                                str(fields["signature"]))
        share = base64.b64decode(str(data["share"]), validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an acceptance ({exc})") from None
    return acceptance, share


def acceptance_json(acceptance: Acceptance, share: bytes) -> dict[str, Any]:
    return {"acceptance": acceptance.to_dict(), "share": base64.b64encode(share).decode()}


class SetupStore:
    """Holders' acceptances (and shares) at the exchange, once per holder and key version."""

    def __init__(self, state: ExchangeState) -> None:
        self.engine = state.engine
        metadata.create_all(self.engine, tables=[acceptances])

    def get(self, project: str, holder: str, version: int) -> dict[str, Any] | None:
        with self.engine.connect() as db:
            row = db.execute(select(acceptances).where(
                acceptances.c.project == project, acceptances.c.holder == holder,
                acceptances.c.key_version == version)).first()
        return None if row is None else {"acceptance": json.loads(row.acceptance),
                                         "share": row.share}

    def add(self, acceptance: Acceptance, share: bytes) -> None:
        body = acceptance_json(acceptance, share)
        with self.engine.begin() as db:
            db.execute(insert(acceptances).values(
                project=acceptance.project, holder=acceptance.holder,
                key_version=acceptance.key_version,
                acceptance=json.dumps(body["acceptance"], sort_keys=True),
                share=body["share"], created_at=int(time.time())))

    def current(self, manifest: ProjectManifest) -> list[dict[str, Any]]:
        """Every acceptance of the manifest's key version, in the spec's holder order."""
        found = [self.get(manifest.id, h, manifest.key_version)
                 for h in manifest.spec.holder_ids]
        return [a for a in found if a is not None]
