"""The airlock: a researcher's release request, two independent checkers, the outbox.

Rules (each refusal is an ``AnalysisEnvError`` that says why):
- files come only from the author's ``outputs/`` folder and are kept by SHA-256; the
  automatic checks of ``anonymize.outputs`` run on each and are stored with it;
- the author never votes; a checker votes once per file version; a vote binds to the
  file's digest, so an edited file starts with no votes;
- a checker sees the other checker's vote only once both are in (the author sees
  neither until the request is decided);
- a file held by an automatic check cannot be approved, only returned or rejected;
- requests, digests, votes and decisions live in the catalog (``catalog.AirlockRecords``):
  each change commits in one transaction with its audit entry, and the moves follow the
  catalog's one state-machine core (``catalog.AIRLOCK``). This module keeps the files:
  the automatic checks, the content-addressed copies and the outbox.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import catalog
from analysis_env.airlock.legacy import import_legacy
from analysis_env.airlock.states import transition
from analysis_env.airlock.store import AirlockStore, copy_atomically, sha256_of
from analysis_env.errors import AnalysisEnvError
from anonymize import AnonymizeError, OutputThresholds, check_output_file
from anonymize.outputs import infer_kind, without_evidence

DECISIONS = ("approve", "reject", "return")
CHECKER_ROLES = frozenset({"privacy_officer"})
REVIEWS_NEEDED = catalog.REVIEWS_NEEDED

_T = TypeVar("_T")


class CatalogPort(Protocol):
    """What the airlock needs of ``catalog.Catalog``: roles, the audit log and its
    transactions (``catalog.AirlockRecords`` stores requests through them)."""

    def user_role(self, user_id: str) -> str | None: ...

    def audit(self, actor: str, action: str, target: str, details: dict) -> None: ...


@dataclass(frozen=True)
class FileVote:
    checker: str
    decision: str
    reason: str
    at: str


@dataclass(frozen=True)
class AirlockFile:
    name: str
    sha256: str
    kind: str
    size: int
    checks: list[dict[str, Any]]
    #: Votes on this version visible to the viewer (hidden until both are in).
    votes: list[FileVote]
    votes_in: int

    @property
    def held(self) -> bool:
        return any(not c["ok"] for c in self.checks)

    @property
    def needs_review(self) -> bool:
        return any(c["review"] for c in self.checks)


@dataclass(frozen=True)
class AirlockRequest:
    id: str
    author: str
    state: str
    context: str
    controls: str
    files: list[AirlockFile]
    created_at: str
    updated_at: str


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _in_room_terms(call: Callable[[], _T]) -> _T:
    """Run a catalog call; its refusal becomes the room's one error, message unchanged."""
    try:
        return call()
    except catalog.CatalogError as exc:
        raise AnalysisEnvError(str(exc)) from None


class Airlock:
    """Release requests out of the room: files under ``root``, records in the catalog."""

    def __init__(self, root: Path, catalog: CatalogPort,
                 thresholds: OutputThresholds | None = None) -> None:
        self.store = AirlockStore(root)
        self.outbox_root = Path(root) / "outbox"
        self.catalog = catalog
        self.records = _records(catalog)
        self.thresholds = thresholds or OutputThresholds()
        import_legacy(Path(root), self.records)

    # -- the researcher's side ---------------------------------------------------------

    def request(self, author: str, outputs_dir: Path, files: Sequence[str], *, context: str,
                controls: str, kinds: Mapping[str, str] | None = None,
                request_id: str | None = None) -> AirlockRequest:
        """Group files of ``outputs_dir`` into a request, run the checks, submit it."""
        if self.catalog.user_role(author) != "researcher":
            raise AnalysisEnvError(f"{author!r} is not a researcher of the catalog; only "
                                   "researchers ask for outputs to leave the room")
        if not files:
            raise AnalysisEnvError("name at least one file from outputs/ to release")
        for label, text in (("context", context), ("disclosure controls", controls)):
            if not text.strip():
                raise AnalysisEnvError(f"say the {label} of the outputs: checkers need it")
        request_id = request_id or f"out-{secrets.token_hex(4)}"
        kept = [self._keep(Path(outputs_dir), name, (kinds or {}).get(name)) for name in files]
        _in_room_terms(lambda: self.records.submit(
            request_id, author=author, context=context.strip(), controls=controls.strip(),
            files=kept))
        return self._load(request_id, author, audit=False)

    def update_file(self, request_id: str, outputs_dir: Path, name: str, *,
                    actor: str) -> AirlockRequest:
        """Replace a file of a returned request with its edited version (votes restart)."""
        request = self._load(request_id, actor, audit=False)
        self._author_only(request, actor)
        if request.state != "returned":
            raise AnalysisEnvError(f"airlock request {request_id!r} is {request.state}; files "
                                   "change only after a checker returns it")
        old = next((f for f in request.files if f.name == name), None)
        kept = self._keep(Path(outputs_dir), name, old.kind if old else None)
        _in_room_terms(lambda: self.records.replace_file(request_id, kept, actor=actor))
        return self._load(request_id, actor, audit=False)

    def resubmit(self, request_id: str, *, actor: str) -> AirlockRequest:
        return self._author_move(request_id, "submitted", actor)

    def withdraw(self, request_id: str, *, actor: str) -> AirlockRequest:
        return self._author_move(request_id, "withdrawn", actor)

    # -- the checkers' side ------------------------------------------------------------

    def view(self, request_id: str, *, actor: str) -> AirlockRequest:
        """The request as ``actor`` may see it; the view is audit-logged."""
        request = self._load(request_id, actor)
        if actor != request.author:
            self._checker(actor)
        return request

    def list(self, *, actor: str, states: Sequence[str] | None = None) -> list[AirlockRequest]:
        """A checker sees every request; a researcher only their own."""
        checker = self.catalog.user_role(actor) in CHECKER_ROLES
        found = self.records.list(author=None if checker else actor)
        return [self._shown(r, actor) for r in found if not states or r.state in states]

    def vote(self, request_id: str, decision: str, *, actor: str, reason: str,
             files: Sequence[str] | None = None) -> AirlockRequest:
        """One checker's independent decision on some or all files of a request.

        The catalog stores the vote, its audit entry and (when it completes the reviews)
        the decision and its entries in one transaction (``catalog.AirlockRecords.vote``).
        """
        if decision not in DECISIONS:
            raise AnalysisEnvError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        self._checker(actor)
        if decision != "approve" and not reason.strip():
            raise AnalysisEnvError(f"to {decision} a file, give the researcher a reason")
        _in_room_terms(lambda: self.records.vote(request_id, decision, actor=actor,
                                                 reason=reason.strip(), files=files))
        return self._load(request_id, actor, audit=False)

    def release(self, request_id: str, *, actor: str) -> list[Path]:
        """Copy an approved request's files to the author's outbox, by their digest.

        The copies are staged beside their place, the catalog records the release (state
        and audit entry together), and only then do the copies take their names: a
        release the catalog refuses leaves nothing in the outbox.
        """
        self._checker(actor)
        request = self._load(request_id, actor, audit=False)
        if actor == request.author:
            raise AnalysisEnvError(f"{actor!r} may not release their own outputs")
        transition(request.state, "released", request_id)
        staged: list[tuple[Path, Path]] = []
        try:
            for file in request.files:
                source = self.store.object_path(file.sha256)
                if sha256_of(source) != file.sha256:
                    raise AnalysisEnvError(f"{file.name}: the stored copy no longer matches "
                                           "its SHA-256; nothing released")
                target = self.outbox_root / request.author / file.sha256 / file.name
                if target.exists():
                    continue
                temporary = target.with_name(f".staged-{secrets.token_hex(4)}-{target.name}")
                if file.kind == "magnitude_table":
                    # The checkers saw the largest contributions; they are single people's
                    # values, so what leaves is the table without them.
                    without_evidence(source, temporary)
                else:
                    copy_atomically(source, temporary)
                staged.append((temporary, target))
            _in_room_terms(lambda: self.records.release(request_id, actor=actor))
        except BaseException:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)
            raise
        for temporary, target in staged:
            os.replace(temporary, target)
        return [self.outbox_root / request.author / f.sha256 / f.name for f in request.files]

    def outbox(self, author: str) -> Path:
        """Where ``author``'s released files appear, outside the room."""
        return self.outbox_root / author

    def stamp(self) -> object:
        """A value that changes whenever any request changes (for the room's intake)."""
        return self.records.stamp()

    # -- internals ---------------------------------------------------------------------

    def _keep(self, outputs_dir: Path, name: str, kind: str | None) -> dict[str, Any]:
        base = outputs_dir.resolve()
        path = (base / name).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            raise AnalysisEnvError(f"{name}: not a file in {outputs_dir}; only files in the "
                                   "outputs folder may leave the room")
        try:
            verdicts = check_output_file(path, self.thresholds, kind)
        except AnonymizeError as exc:
            raise AnalysisEnvError(str(exc)) from None
        digest = self.store.keep(path)
        return {"name": str(Path(name)), "sha256": digest, "kind": kind or infer_kind(path),
                "checks": json.loads(json.dumps([v.to_dict() for v in verdicts])),
                "size": path.stat().st_size}

    def _checker(self, actor: str) -> None:
        if self.catalog.user_role(actor) not in CHECKER_ROLES:
            raise AnalysisEnvError(f"{actor!r} is not an output checker (a privacy officer)")

    @staticmethod
    def _author_only(request: AirlockRequest, actor: str) -> None:
        if actor != request.author:
            raise AnalysisEnvError(f"only {request.author!r}, who wrote airlock request "
                                   f"{request.id!r}, may change it")

    def _author_move(self, request_id: str, target: str, actor: str) -> AirlockRequest:
        request = self._load(request_id, actor, audit=False)
        self._author_only(request, actor)
        _in_room_terms(lambda: self.records.move(request_id, target, actor=actor))
        return self._load(request_id, actor, audit=False)

    def _load(self, request_id: str, viewer: str, *, audit: bool = True) -> AirlockRequest:
        found = _in_room_terms(lambda: self.records.get(request_id))
        if audit:
            self.catalog.audit(viewer, "airlock.view", request_id, {"state": found.state})
        return self._shown(found, viewer)

    def _shown(self, found: Any, viewer: str) -> AirlockRequest:
        files = []
        for f in found.files:
            votes = [FileVote(v.checker, v.decision, v.reason, _iso(v.at)) for v in f.votes]
            files.append(AirlockFile(f.name, f.sha256, f.kind, f.size, list(f.checks),
                                     self._visible(votes, viewer, found.author, found.state),
                                     len(votes)))
        return AirlockRequest(found.id, found.author, found.state, found.context,
                              found.controls, files, _iso(found.created_at),
                              _iso(found.updated_at))

    @staticmethod
    def _visible(votes: list[FileVote], viewer: str, author: str,
                 state: str) -> list[FileVote]:
        """Independence: nobody sees another checker's vote before both are in."""
        if len(votes) >= REVIEWS_NEEDED and (viewer != author or state != "submitted"):
            return votes
        return [v for v in votes if v.checker == viewer]


def _records(port: CatalogPort) -> catalog.AirlockRecords:
    """The catalog's airlock service over the catalog the room was given."""
    if not isinstance(port, catalog.Catalog):
        raise AnalysisEnvError("the airlock keeps its records in the catalog: give it a "
                               "catalog.Catalog")
    return catalog.AirlockRecords(port)
