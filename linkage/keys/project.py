"""The project manifest, and the project key the holders make from it.

The manifest is the public record every party checks files against: the spec, each
party's public keys, a nonce, and whether the project is open. Whoever writes it (in
practice the agency) never holds the project key: the holders accept the manifest and
draw the key's shares themselves (:mod:`linkage.keys.acceptance`), so neither the key
manager, nor the combiner, nor an operator can test a guessed identifier against a
linkage key (DESIGN 2).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from linkage.errors import LinkageError
from linkage.files import write_atomic
from linkage.keys.party import PartyPublic, PartySecret, load_party_public, load_party_secret
from linkage.spec import ProjectSpec

MANIFEST_NAME = "project.json"
MANIFEST_FORMAT = "pseudolink-project/1"
PROJECT_KEY_BYTES = 32
NONCE_BYTES = 16


@dataclass(frozen=True)
class ProjectManifest:
    spec: ProjectSpec
    parties: dict[str, PartyPublic]
    status: str = "open"
    key_version: int = 1
    created_at: str = ""
    closed_at: str | None = None
    path: Path | None = field(default=None, compare=False)
    #: Random at ``project create``, so a project re-created under the same id and key
    #: version is still a different project (its files do not verify here). Empty only in
    #: manifests written before nonces existed.
    nonce: str = ""

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def binding(self) -> str:
        """SHA-256 (hex) of the project's immutable public facts, bound into every envelope.

        Id, nonce, key version and every party's public keys: a file made for another
        project, an earlier incarnation of this one, or under another key version carries
        a different binding and is refused. Holders sign these facts and the spec when they
        accept the project (:func:`linkage.keys.acceptance.acceptance_digest`), so none of
        them may change after ``project create`` without every holder accepting again.
        """
        facts = {
            "id": self.id, "nonce": self.nonce, "key_version": self.key_version,
            "parties": {pid: {"role": p.role, "age_recipient": p.age_recipient,
                              "ed25519_public": p.ed25519_public}
                        for pid, p in sorted(self.parties.items())},
        }
        canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def party(self, party_id: str) -> PartyPublic:
        try:
            return self.parties[party_id]
        except KeyError:
            raise LinkageError(f"party '{party_id}' is not part of project {self.id}") from None

    def require_open(self) -> None:
        if not self.is_open:
            raise LinkageError(f"project {self.id} is closed (at {self.closed_at}); its key "
                               "is destroyed and it accepts no more work")

    def unlock_as(self, role: str, as_party: str | None, keys_dir: str | Path,
                  passphrase: str) -> PartySecret:
        """The keys of the party acting as ``role`` ("key_manager" or "combiner").

        A party may only act in the role the project gave it: a holder cannot link, and the
        key manager cannot combine.
        """
        return load_party_secret(keys_dir, self.role_party(role, as_party), passphrase)

    def role_party(self, role: str, as_party: str | None = None) -> str:
        """The party id acting as ``role``: ``as_party`` if it is the one the project gave
        that role (else a :class:`LinkageError`), the spec's otherwise. Checked before any
        key is unlocked."""
        expected = getattr(self.spec, role)
        party_id = as_party or expected
        if party_id != expected:
            raise LinkageError(f"party '{party_id}' is not the {role.replace('_', ' ')} of "
                               f"project {self.id} ({expected} is)")
        return party_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "spec": self.spec.to_dict(),
            "parties": {pid: p.to_dict() for pid, p in self.parties.items()},
            "status": self.status,
            "key_version": self.key_version,
            "created_at": self.created_at,
            "closed_at": self.closed_at,
            "nonce": self.nonce,
        }

    def save(self, project_dir: str | Path) -> ProjectManifest:
        path = Path(project_dir) / MANIFEST_NAME
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        write_atomic(path, text.encode("utf-8"))
        return replace(self, path=path)

    @classmethod
    def load(cls, path: str | Path) -> ProjectManifest:
        """Load ``project.json``, given the file or the project directory that holds it."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.exists():
            raise LinkageError(f"{path}: no project manifest; create the project with "
                               "`pseudolink project create --spec project.toml`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            spec = ProjectSpec.from_dict(data["spec"], source=str(path))
            parties = {pid: PartyPublic.from_dict(p) for pid, p in data["parties"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise LinkageError(f"{path}: not a project manifest ({exc})") from None
        return cls(spec, parties, data["status"], data["key_version"], data["created_at"],
                   data.get("closed_at"), path, data.get("nonce", ""))


def as_manifest(project: ProjectManifest | str | Path) -> ProjectManifest:
    """Accept a manifest object, a ``project.json`` path or a project directory."""
    if isinstance(project, ProjectManifest):
        return project
    return ProjectManifest.load(project)


def _key_dir(keys_dir: Path, project_id: str) -> Path:
    return Path(keys_dir) / "projects" / project_id


def create_project(spec: ProjectSpec, keys_dir: str | Path, project_dir: str | Path
                   ) -> ProjectManifest:
    """Write the public manifest: spec, parties' public keys, a nonce. No key is made here.

    Each holder then accepts it (``project accept``), which is where the project key's
    shares are drawn. Creating an open project again with the same spec returns it
    unchanged; a different spec under the same id is refused rather than silently replaced.
    """
    keys_dir, project_dir = Path(keys_dir), Path(project_dir)
    parties: dict[str, PartyPublic] = {}
    expected_roles = [(h.id, "holder") for h in spec.holders]
    expected_roles += [(spec.key_manager, "key_manager"), (spec.combiner, "combiner")]
    for party_id, role in expected_roles:
        try:
            public = load_party_public(keys_dir, party_id)
        except LinkageError:
            raise LinkageError(
                f"project {spec.id}: no public keys for {role.replace('_', ' ')} '{party_id}' "
                f"in {keys_dir}; create them with `pseudolink party create --id {party_id} "
                f"--role {role}` (or copy its .public.json here)") from None
        if public.role != role:
            raise LinkageError(f"project {spec.id}: party '{party_id}' has role {public.role}, "
                               f"the spec needs it as {role}")
        parties[party_id] = public

    manifest_path = project_dir / MANIFEST_NAME
    if manifest_path.exists():
        existing = ProjectManifest.load(manifest_path)
        if not existing.is_open:
            raise LinkageError(f"project {spec.id} was closed and its key destroyed; "
                               "start a new project with a new id")
        if existing.spec.to_dict() != spec.to_dict() or existing.parties != parties:
            raise LinkageError(f"project {spec.id} already exists in {project_dir} with a "
                               "different spec or parties; use a new project id")
        return existing

    now = datetime.now(UTC).isoformat(timespec="seconds")
    return ProjectManifest(spec, parties, "open", 1, now,
                           nonce=secrets.token_hex(NONCE_BYTES)).save(project_dir)


def load_project_key(keys_dir: str | Path, manifest: ProjectManifest,
                     holder: PartySecret) -> bytes:
    """The project key, derived in a holder's memory from every holder's accepted share.

    Refused unless the manifest is exactly what this holder accepted and every holder's
    signed acceptance and share lie next to it; only holders can open the shares.
    """
    from linkage.keys.acceptance import derive_project_key

    manifest.require_open()
    if manifest.path is None:
        raise LinkageError(f"project {manifest.id}: load the manifest from its project "
                           "directory, where the holders' acceptances lie")
    return derive_project_key(manifest, holder, keys_dir)


def rotate_project_key(project_dir: str | Path, keys_dir: str | Path) -> ProjectManifest:
    """Start a new key version: every holder accepts again, drawing new shares.

    Nothing secret is made here, so any party may start a rotation; the key itself changes
    only when every holder has accepted the new version. This workspace's shares of the old
    version are shredded. Link ids are random and serials are drawn afresh at each prepare,
    so link maps and combined data made before stay valid; keys files prepared under the
    old key are refused by ``link`` from now on, because keys of two versions never agree.
    """
    from linkage.keys.acceptance import accept_path, own_record_path, share_path

    keys_dir, project_dir = Path(keys_dir), Path(project_dir)
    manifest = ProjectManifest.load(project_dir)
    manifest.require_open()
    old = manifest.key_version
    rotated = replace(manifest, key_version=old + 1).save(project_dir)
    for holder_id in manifest.spec.holder_ids:
        for path in (share_path(project_dir, holder_id, old),
                     accept_path(project_dir, holder_id, old),
                     own_record_path(keys_dir, manifest.id, holder_id, old)):
            if path.exists():
                _shred(path)
    return rotated


def close_project(project_dir: str | Path, keys_dir: str | Path) -> ProjectManifest:
    """Destroy the project key and every link map in the workspace; mark the project closed.

    Without the key no new linkage key can be computed, and without the link map the
    combined data cannot be re-joined to the holders' crosswalks.
    """
    manifest = ProjectManifest.load(project_dir)
    key_dir = _key_dir(Path(keys_dir), manifest.id)
    # The key lives only in holders' memory; its shares are what must go.
    for path in Path(project_dir).glob("*.share.age"):
        _shred(path)
    if key_dir.exists():
        for pattern in ("*projectkey.age", "*.accepted.json"):
            for path in key_dir.glob(pattern):
                _shred(path)
        if not any(key_dir.iterdir()):
            key_dir.rmdir()
    for path in Path(project_dir).rglob("linkmap.age"):
        _shred(path)
    if not manifest.is_open:
        return manifest
    closed = replace(manifest, status="closed",
                     closed_at=datetime.now(UTC).isoformat(timespec="seconds"))
    return closed.save(project_dir)


def _shred(path: Path) -> None:
    # Overwriting first means a copy-on-write snapshot is the only way back, not undelete.
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(secrets.token_bytes(size))
    path.unlink()
