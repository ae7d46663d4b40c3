"""The airlock: a researcher's release request, two independent checkers, the outbox.

Rules the code enforces (each refusal is an ``AnalysisEnvError`` that says why):
- files come only from the author's ``outputs/`` folder and are kept by SHA-256; the
  automatic checks of ``anonymize.outputs`` run on each and are stored with it;
- the author never votes; a checker votes once per file version; a vote binds to the
  file's digest, so an edited file starts with no votes;
- a checker sees the other checker's vote only once both are in (the author sees
  neither until the request is decided);
- a file held by an automatic check cannot be approved, only returned or rejected;
- every view, vote, decision and release is written to the catalog's audit log.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from analysis_env.airlock.states import transition
from analysis_env.airlock.store import AirlockStore, copy_atomically, sha256_of
from analysis_env.errors import AnalysisEnvError
from anonymize import AnonymizeError, OutputThresholds, check_output_file
from anonymize.outputs import infer_kind, without_evidence

DECISIONS = ("approve", "reject", "return")
CHECKER_ROLES = frozenset({"privacy_officer"})
REVIEWS_NEEDED = 2


class CatalogPort(Protocol):
    """What the airlock needs of ``catalog.Catalog``: roles and the audit log."""

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Airlock:
    """Release requests out of the room, in a store at ``root`` (see ``store``)."""

    def __init__(self, root: Path, catalog: CatalogPort,
                 thresholds: OutputThresholds | None = None) -> None:
        self.store = AirlockStore(root)
        self.outbox_root = Path(root) / "outbox"
        self.catalog = catalog
        self.thresholds = thresholds or OutputThresholds()

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
        now = _now()
        with self.store.connect() as db:
            if db.execute("SELECT 1 FROM requests WHERE id = ?", (request_id,)).fetchone():
                raise AnalysisEnvError(f"airlock request {request_id!r} already exists")
            db.execute("INSERT INTO requests VALUES (?, ?, 'submitted', ?, ?, ?, ?)",
                       (request_id, author, context.strip(), controls.strip(), now, now))
            for row in kept:
                db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", (request_id, *row))
        self.catalog.audit(author, "airlock.request", request_id, {
            "files": {row[0]: row[1] for row in kept},
            "held": [row[0] for row in kept if any(not c["ok"] for c in json.loads(row[3]))]})
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
        with self.store.connect() as db:
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                       (request_id, *kept))
            db.execute("UPDATE requests SET updated_at = ? WHERE id = ?", (_now(), request_id))
        self.catalog.audit(actor, "airlock.update_file", request_id,
                           {"file": name, "sha256": kept[1],
                            "previous": old.sha256 if old else None})
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
        with self.store.connect() as db:
            rows = db.execute("SELECT id, author, state FROM requests ORDER BY created_at, id"
                              ).fetchall()
        return [self._load(r["id"], actor, audit=False) for r in rows
                if (checker or r["author"] == actor) and (not states or r["state"] in states)]

    def vote(self, request_id: str, decision: str, *, actor: str, reason: str,
             files: Sequence[str] | None = None) -> AirlockRequest:
        """One checker's independent decision on some or all files of a request."""
        if decision not in DECISIONS:
            raise AnalysisEnvError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
        self._checker(actor)
        if decision != "approve" and not reason.strip():
            raise AnalysisEnvError(f"to {decision} a file, give the researcher a reason")
        request = self._load(request_id, actor, audit=False)
        if actor == request.author:
            raise AnalysisEnvError(f"{actor!r} wrote airlock request {request_id!r} and may "
                                   "not check it")
        if request.state != "submitted":
            raise AnalysisEnvError(f"airlock request {request_id!r} is {request.state}; votes "
                                   "are taken only while it is submitted")
        chosen = [f for f in request.files if files is None or f.name in files]
        missing = sorted(set(files or ()) - {f.name for f in chosen})
        if missing:
            raise AnalysisEnvError(f"airlock request {request_id!r} has no file "
                                   f"{', '.join(missing)}")
        for file in chosen:
            if decision == "approve" and file.held:
                failed = "; ".join(c["reason"] for c in file.checks if not c["ok"])
                raise AnalysisEnvError(f"{file.name} is held by the automatic checks "
                                       f"({failed}); return or reject it")
        with self.store.connect() as db:
            for file in chosen:
                if db.execute("SELECT 1 FROM votes WHERE request_id = ? AND name = ? AND "
                              "sha256 = ? AND checker = ?",
                              (request_id, file.name, file.sha256, actor)).fetchone():
                    raise AnalysisEnvError(f"{actor!r} already voted on {file.name} "
                                           "(this version)")
                db.execute("INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (request_id, file.name, file.sha256, actor, decision,
                            reason.strip(), _now()))
        self.catalog.audit(actor, "airlock.vote", request_id, {
            "decision": decision, "reason": reason.strip(),
            "files": {f.name: f.sha256 for f in chosen}})
        self._decide_if_complete(request_id)
        return self._load(request_id, actor, audit=False)

    def release(self, request_id: str, *, actor: str) -> list[Path]:
        """Copy an approved request's files to the author's outbox, by their digest."""
        self._checker(actor)
        request = self._load(request_id, actor, audit=False)
        if actor == request.author:
            raise AnalysisEnvError(f"{actor!r} may not release their own outputs")
        transition(request.state, "released", request_id)
        released = []
        for file in request.files:
            source = self.store.object_path(file.sha256)
            if sha256_of(source) != file.sha256:
                raise AnalysisEnvError(f"{file.name}: the stored copy no longer matches its "
                                       "SHA-256; nothing released")
            target = self.outbox_root / request.author / file.sha256 / file.name
            if not target.exists() and file.kind == "magnitude_table":
                # The checkers saw the largest contributions; they are single people's
                # values, so what leaves is the table without them.
                without_evidence(source, target)
            elif not target.exists():
                copy_atomically(source, target)
            released.append(target)
        self._move(request_id, "released")
        self.catalog.audit(actor, "airlock.release", request_id, {
            "author": request.author, "files": {f.name: f.sha256 for f in request.files}})
        return released

    def outbox(self, author: str) -> Path:
        """Where ``author``'s released files appear, outside the room."""
        return self.outbox_root / author

    # -- internals ---------------------------------------------------------------------

    def _keep(self, outputs_dir: Path, name: str, kind: str | None) -> tuple:
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
        return (str(Path(name)), digest, kind or infer_kind(path),
                json.dumps([v.to_dict() for v in verdicts]), path.stat().st_size)

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
        self._move(request_id, target)
        self.catalog.audit(actor, f"airlock.{target}", request_id, {})
        return self._load(request_id, actor, audit=False)

    def _move(self, request_id: str, target: str) -> None:
        with self.store.connect() as db:
            state = db.execute("SELECT state FROM requests WHERE id = ?",
                               (request_id,)).fetchone()["state"]
            transition(state, target, request_id)
            db.execute("UPDATE requests SET state = ?, updated_at = ? WHERE id = ?",
                       (target, _now(), request_id))

    def _decide_if_complete(self, request_id: str) -> None:
        with self.store.connect() as db:
            files = db.execute("SELECT name, sha256 FROM files WHERE request_id = ?",
                               (request_id,)).fetchall()
            outcomes = []
            for file in files:
                decisions = [r["decision"] for r in db.execute(
                    "SELECT decision FROM votes WHERE request_id = ? AND name = ? AND "
                    "sha256 = ?", (request_id, file["name"], file["sha256"]))]
                if len(decisions) < REVIEWS_NEEDED:
                    return
                outcomes.extend(decisions)
        target = ("returned" if "return" in outcomes else
                  "rejected" if "reject" in outcomes else "approved")
        self._move(request_id, target)
        self.catalog.audit("system:airlock", f"airlock.{target}", request_id,
                           {"votes": len(outcomes)})

    def _load(self, request_id: str, viewer: str, *, audit: bool = True) -> AirlockRequest:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise AnalysisEnvError(f"no airlock request {request_id!r}")
            files = []
            for f in db.execute("SELECT * FROM files WHERE request_id = ? ORDER BY name",
                                (request_id,)).fetchall():
                votes = [FileVote(v["checker"], v["decision"], v["reason"], v["at"])
                         for v in db.execute(
                             "SELECT * FROM votes WHERE request_id = ? AND name = ? AND "
                             "sha256 = ? ORDER BY at, checker",
                             (request_id, f["name"], f["sha256"]))]
                files.append(AirlockFile(f["name"], f["sha256"], f["kind"], f["size"],
                                         json.loads(f["checks"]),
                                         self._visible(votes, viewer, row["author"],
                                                       row["state"]), len(votes)))
        if audit:
            self.catalog.audit(viewer, "airlock.view", request_id, {"state": row["state"]})
        return AirlockRequest(row["id"], row["author"], row["state"], row["context"],
                              row["controls"], files, row["created_at"], row["updated_at"])

    @staticmethod
    def _visible(votes: list[FileVote], viewer: str, author: str,
                 state: str) -> list[FileVote]:
        """Independence: nobody sees another checker's vote before both are in."""
        if len(votes) >= REVIEWS_NEEDED and (viewer != author or state != "submitted"):
            return votes
        return [v for v in votes if v.checker == viewer]
