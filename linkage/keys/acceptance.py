"""Holders accept a project and make its key together; nobody else ever holds it.

``project create`` writes only the public manifest. Each holder then runs ``project accept``
on its own premises: it checks the spec and every party's keys, signs a digest of them, and
draws a random share of the project key, sealed (age) to the holders only. The project key
is HKDF-SHA256 over every holder's share, salted with the accepted digest, and exists only
in the memory of a holder's ``prepare``: the key manager, the agency and whoever ran
``project create`` relay shares they cannot open, and one honest holder's share is enough to
keep the key unknown to all of them.

The digest a holder signs covers the spec and :attr:`ProjectManifest.binding` (id, nonce,
key version, every party's public keys), so a manifest rewritten after acceptance (an
identifier moved to the attributes, a recipient swapped) no longer matches what the holder
accepted, and ``prepare`` refuses it, naming the difference.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyrage
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.errors import LinkageError
from linkage.files import write_atomic
from linkage.keys.party import PartySecret

ACCEPT_FORMAT = "pseudolink-accept/1"
SHARE_BYTES = 32
PROJECT_KEY_BYTES = 32
_KDF_INFO = b"pseudolink/v1/project-key"


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def accepted_facts(manifest) -> dict[str, Any]:
    """What a holder accepts: the spec and the manifest's immutable public facts."""
    return {"binding": manifest.binding, "spec": manifest.spec.to_dict(),
            "id": manifest.id, "nonce": manifest.nonce, "key_version": manifest.key_version,
            "parties": {pid: p.to_dict() for pid, p in sorted(manifest.parties.items())}}


def acceptance_digest(manifest) -> str:
    return hashlib.sha256(canonical(accepted_facts(manifest))).hexdigest()


def _suffix(version: int) -> str:
    return "" if version == 1 else f".v{version}"


def accept_path(project_dir: str | Path, holder_id: str, version: int = 1) -> Path:
    """A holder's signed acceptance, sent to every other party (public).

    >>> accept_path("p", "ssis", 2).name
    'ssis.v2.accept.json'
    """
    return Path(project_dir) / f"{holder_id}{_suffix(version)}.accept.json"


def share_path(project_dir: str | Path, holder_id: str, version: int = 1) -> Path:
    """A holder's share of the project key, sealed to the holders only."""
    return Path(project_dir) / f"{holder_id}{_suffix(version)}.share.age"


def own_record_path(keys_dir: str | Path, project_id: str, holder_id: str,
                    version: int = 1) -> Path:
    """The holder's private copy of the facts it accepted, kept with its keys."""
    return (Path(keys_dir) / "projects" / project_id /
            f"{holder_id}{_suffix(version)}.accepted.json")


@dataclass(frozen=True)
class Acceptance:
    project: str
    holder: str
    key_version: int
    digest: str
    share_sha256: str
    accepted_at: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        return canonical({"format": ACCEPT_FORMAT, "project": self.project,
                          "holder": self.holder, "key_version": self.key_version,
                          "digest": self.digest, "share_sha256": self.share_sha256,
                          "accepted_at": self.accepted_at})

    def to_dict(self) -> dict[str, Any]:
        return {"format": ACCEPT_FORMAT, "project": self.project, "holder": self.holder,
                "key_version": self.key_version, "digest": self.digest,
                "share_sha256": self.share_sha256, "accepted_at": self.accepted_at,
                "signature": self.signature}

    @classmethod
    def load(cls, path: Path) -> Acceptance:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != ACCEPT_FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            return cls(data["project"], data["holder"], int(data["key_version"]),
                       data["digest"], data["share_sha256"], data["accepted_at"],
                       data["signature"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LinkageError(f"{path}: not a project acceptance ({exc})") from None


def accept_project(manifest, holder: PartySecret, keys_dir: str | Path) -> Acceptance:
    """Sign ``manifest`` as ``holder`` and draw its share; write both next to the manifest.

    The caller has shown the holder what it accepts. Accepting again the same facts keeps
    the existing share (the key stays the same); accepting changed facts is refused: the
    project must be re-created or rotated, and every holder accept again.
    """
    manifest.require_open()
    if manifest.party(holder.id).role != "holder":
        raise LinkageError(f"party '{holder.id}' is not a holder of project {manifest.id}; "
                           "only holders accept a project and hold its key")
    if holder.public != manifest.party(holder.id):
        raise LinkageError(f"project.json registers other keys for '{holder.id}' than the "
                           "ones in this workspace: it was not made for this holder")
    project_dir = Path(manifest.path).parent
    version = manifest.key_version
    facts = accepted_facts(manifest)
    digest = acceptance_digest(manifest)
    record = own_record_path(keys_dir, manifest.id, holder.id, version)
    if record.exists():
        before = json.loads(record.read_text(encoding="utf-8"))
        if before["digest"] != digest:
            raise LinkageError(f"holder '{holder.id}' already accepted a different version "
                               f"of project {manifest.id}: {differences(before['facts'], facts)}")
        existing = accept_path(project_dir, holder.id, version)
        if existing.exists() and share_path(project_dir, holder.id, version).exists():
            return Acceptance.load(existing)
    share = secrets.token_bytes(SHARE_BYTES)
    holders = [manifest.party(h).recipient() for h in manifest.spec.holder_ids]
    sealed = pyrage.encrypt(share, holders)
    del share
    acceptance = Acceptance(manifest.id, holder.id, version, digest,
                            hashlib.sha256(sealed).hexdigest(),
                            datetime.now(UTC).isoformat(timespec="seconds"))
    signed = Acceptance(**{**acceptance.__dict__,
                           "signature": holder.signer.sign(acceptance.signed_bytes()).hex()})
    write_atomic(record, canonical({"digest": digest, "facts": facts}), mode=0o600)
    write_atomic(share_path(project_dir, holder.id, version), sealed)
    write_atomic(accept_path(project_dir, holder.id, version),
                 (json.dumps(signed.to_dict(), indent=2) + "\n").encode("utf-8"))
    return signed


def check_accepted(manifest, holder_id: str, keys_dir: str | Path) -> str:
    """The digest ``holder_id`` accepted, if the manifest is still exactly that; else refuse."""
    manifest.require_open()
    record = own_record_path(keys_dir, manifest.id, holder_id, manifest.key_version)
    if not record.exists():
        raise LinkageError(
            f"holder '{holder_id}' has not accepted project {manifest.id} (key version "
            f"{manifest.key_version}) in this workspace; check it and run `pseudolink project "
            f"accept --project {manifest.id} --holder {holder_id}`")
    accepted = json.loads(record.read_text(encoding="utf-8"))
    if accepted["digest"] != acceptance_digest(manifest):
        raise LinkageError(
            f"{manifest.path}: differs from what holder '{holder_id}' accepted: "
            f"{differences(accepted['facts'], accepted_facts(manifest))}; refusing to "
            "prepare. If the change is meant, the project must be re-created and accepted "
            "again")
    return accepted["digest"]


def require_every_share(manifest) -> None:
    """Refuse, naming who is missing, unless every holder's acceptance and share are here."""
    project_dir = Path(manifest.path).parent
    version = manifest.key_version
    missing = [h for h in manifest.spec.holder_ids
               if not (accept_path(project_dir, h, version).exists()
                       and share_path(project_dir, h, version).exists())]
    if missing:
        raise LinkageError(
            f"project {manifest.id} has no key until every holder has accepted it: missing "
            f"the acceptance and key share of {', '.join(missing)} (expected "
            + ", ".join(f"{accept_path(project_dir, h, version).name} and "
                        f"{share_path(project_dir, h, version).name}" for h in missing)
            + f" in {project_dir})")


def derive_project_key(manifest, holder: PartySecret, keys_dir: str | Path) -> bytes:
    """The project key, from every holder's signed acceptance and share; refuse what is amiss."""
    digest = check_accepted(manifest, holder.id, keys_dir)
    require_every_share(manifest)
    project_dir = Path(manifest.path).parent
    version = manifest.key_version
    shares = []
    for holder_id in manifest.spec.holder_ids:
        path = accept_path(project_dir, holder_id, version)
        acceptance = Acceptance.load(path)
        try:
            manifest.party(holder_id).verifier().verify(bytes.fromhex(acceptance.signature),
                                                        acceptance.signed_bytes())
        except (InvalidSignature, ValueError):
            raise LinkageError(f"{path}: not signed by holder '{holder_id}'") from None
        if (acceptance.holder, acceptance.project) != (holder_id, manifest.id) \
                or acceptance.digest != digest:
            raise LinkageError(f"{path}: holder '{holder_id}' accepted a different version of "
                               f"project {manifest.id} than this holder did; every holder "
                               "must accept the same project.json")
        sealed_path = share_path(project_dir, holder_id, version)
        sealed = sealed_path.read_bytes()
        if hashlib.sha256(sealed).hexdigest() != acceptance.share_sha256:
            raise LinkageError(f"{sealed_path}: not the key share holder '{holder_id}' signed")
        try:
            share = pyrage.decrypt(sealed, [holder.identity])
        except pyrage.DecryptError:
            raise LinkageError(f"{sealed_path}: cannot be opened with the keys of holder "
                               f"'{holder.id}'") from None
        if len(share) != SHARE_BYTES:
            raise LinkageError(f"{sealed_path}: not a key share")
        shares.append(share)
    return HKDF(algorithm=hashes.SHA256(), length=PROJECT_KEY_BYTES,
                salt=bytes.fromhex(digest), info=_KDF_INFO).derive(b"".join(shares))


def differences(before: Any, after: Any, where: str = "") -> str:
    """Name what changed between two nested facts, a few at most.

    >>> differences({"a": {"b": 1}}, {"a": {"b": 2}})
    'a.b was 1, now 2'
    """
    found = list(_walk(before, after, where))
    shown = "; ".join(found[:4]) + (f"; and {len(found) - 4} more" if len(found) > 4 else "")
    return shown or "the digest differs"


def _walk(before: Any, after: Any, where: str):
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in after:
                yield f"{path} was removed"
            elif key not in before:
                yield f"{path} was added ({_short(after[key])})"
            else:
                yield from _walk(before[key], after[key], path)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _walk(b, a, f"{where}[{i}]")
    elif before != after and where != "binding":
        yield f"{where} was {_short(before)}, now {_short(after)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = [
    "Acceptance",
    "accept_path",
    "accept_project",
    "acceptance_digest",
    "accepted_facts",
    "check_accepted",
    "derive_project_key",
    "differences",
    "own_record_path",
    "require_every_share",
    "share_path",
]
