"""Access requests through their workflow, the committee, and the access they grant.

Each method loads the request under a row lock, asks ``catalog.workflow`` whether the
move is legal and ``catalog.roles`` whether the actor may make it, and writes the
change and its audit entry in one transaction. A refusal by the role matrix is
audited too, in a transaction of its own, since the attempt is worth knowing about.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from catalog import audit as audit_log
from catalog.coltypes import utcnow
from catalog.committee import CommitteeRules, RiskThresholds, Tally, check_no_tie, tally
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.models import (
    PURPOSES,
    RELEASE_FORMS,
    AccessRequest,
    CommitteeMember,
    CommitteeVote,
    Dataset,
    Project,
    Review,
    User,
)
from catalog.roles import PermissionRefused, require
from catalog.workflow import ACCESS, SYSTEM_EXPIRY

#: The form that needs a committee rather than one officer.
TAKE_OUT = "take_out"


@dataclass(frozen=True)
class RequestInfo:
    """An access request with its Five Safes, state, committee and reviews."""

    id: str
    state: str
    # Safe projects: which project, for which lawful purpose and why.
    project_id: str | None
    purpose: str
    lawful_basis: str
    justification: str
    # Safe people.
    requester_id: str
    requester_organisation: str | None
    researchers: list[str]
    # Safe settings.
    setting: str
    # Safe data.
    dataset_id: str
    columns: list[str]
    # Safe outputs.
    release_form: str
    outputs: str
    starts_at: datetime | None
    ends_at: datetime | None
    state_reason: str | None
    risk_report: dict[str, Any] | None
    committee: list[str]
    committee_quorum: int | None
    votes: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AccessInfo:
    """An active grant: what the user may use, in which form, until when."""

    request_id: str
    user_id: str
    form: str
    datasets: dict[str, list[str]]
    ends_at: datetime | None


def _request_info(request: AccessRequest, session: Session) -> RequestInfo:
    requester = session.get(User, request.requester_id)
    return RequestInfo(
        id=request.id, state=request.state, project_id=request.project_id,
        purpose=request.purpose, lawful_basis=request.lawful_basis,
        justification=request.justification, requester_id=request.requester_id,
        requester_organisation=requester.organisation_id if requester else None,
        researchers=list(request.researchers), setting=request.setting,
        dataset_id=request.dataset_id, columns=list(request.columns),
        release_form=request.release_form, outputs=request.outputs,
        starts_at=request.starts_at, ends_at=request.ends_at,
        state_reason=request.state_reason, risk_report=request.risk_report,
        committee=[m.reviewer_id for m in request.committee],
        committee_quorum=request.committee_quorum,
        votes=[{"reviewer": v.reviewer_id, "vote": v.vote, "reason": v.reason,
                "at": v.created_at} for v in request.votes],
        reviews=[{"reviewer": r.reviewer_id, "decision": r.decision, "reason": r.reason,
                  "risk_report": r.risk_report, "at": r.created_at} for r in request.reviews],
        created_at=request.created_at, updated_at=request.updated_at,
    )


def _aware(value: datetime | None, what: str, request_id: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise CatalogError(f"request {request_id!r}: {what} needs a time zone")
    return value


def _reason(reason: str, what: str, request_id: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise CatalogError(f"request {request_id!r}: {what} needs a reason")
    return reason.strip()


def _report(report: Mapping[str, Any], request_id: str) -> dict[str, Any]:
    if not isinstance(report, Mapping) or "k" not in report or "class_sizes" not in report:
        raise CatalogError(f"request {request_id!r}: the risk report must be "
                           "anonymize.risk_report(...).to_dict() (with k and class_sizes)")
    return jsonable(report)


class RequestMethods:
    """The officers' half of ``catalog.request_service.RequestService``.

    The service supplies the storage layer's transactions (``_write``, ``_read``) and the
    audit log (``audit``); they are declared here, not stubbed.
    """

    committee_rules: CommitteeRules
    risk_thresholds: RiskThresholds
    _write: Any
    _read: Any
    audit: Any

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _acting(self, actor: str, action: str, request_id: str,
                lock: bool = True) -> Iterator[tuple[Session, AccessRequest | None, dict]]:
        """A writing transaction on one request; yields (session, request, audit details)."""
        details: dict[str, Any] = {}
        try:
            with self._write() as session:
                request = None
                if lock:
                    request = session.execute(
                        select(AccessRequest).where(AccessRequest.id == request_id)
                        .with_for_update()).scalar_one_or_none()
                    if request is None:
                        raise CatalogError(f"no access request {request_id!r} in the catalog")
                yield session, request, details
                # A move through the state machine wrote its own entry (ACCESS.apply).
                if not details.pop("_written", False):
                    session.flush()
                    audit_log.append_entry(session, actor, action, request_id, details)
        except PermissionRefused as refused:
            self.audit(actor, "access.refused", request_id,
                       {"action": refused.action, "reason": str(refused)})
            raise

    def _move(self, session: Session, request: AccessRequest, target: str, actor: str,
              details: dict[str, Any], reason: str | None = None,
              extra: Mapping[str, Any] | None = None) -> None:
        """Move the request through ``ACCESS``: role check, state and audit entry at once."""
        request.state_reason = reason
        ACCESS.apply(session, request, target, actor, owner=request.requester_id,
                     parties=request.researchers, reason=reason, details=extra)
        details["_written"] = True

    # -- drafting and submitting ------------------------------------------------------

    def create_request(self, request_id: str, *, dataset_id: str, columns: Sequence[str],
                       release_form: str, purpose: str, lawful_basis: str,
                       researchers: Sequence[str], setting: str, outputs: str,
                       ends_at: datetime, actor: str, starts_at: datetime | None = None,
                       project_id: str | None = None, justification: str = "") -> RequestInfo:
        """Draft a request carrying the Five Safes; the actor (a researcher) owns it."""
        if release_form not in RELEASE_FORMS:
            raise CatalogError(f"request {request_id!r}: release form {release_form!r} is not "
                               f"one of {', '.join(RELEASE_FORMS)}")
        if purpose not in PURPOSES:
            raise CatalogError(f"request {request_id!r}: purpose {purpose!r} is not one of "
                               f"{', '.join(PURPOSES)}")
        for label, text in (("lawful basis", lawful_basis), ("setting", setting),
                            ("outputs", outputs)):
            if not text.strip():
                raise CatalogError(f"request {request_id!r}: the {label} must be stated")
        if _aware(ends_at, "ends_at", request_id) is None:
            raise CatalogError(f"request {request_id!r}: an end date is required")
        if _aware(starts_at, "starts_at", request_id) and starts_at >= ends_at:
            raise CatalogError(f"request {request_id!r}: starts_at must precede ends_at")
        with self._acting(actor, "request.create", request_id, lock=False) as (session, _, d):
            require(session, actor, "request.create")
            if session.get(AccessRequest, request_id) is not None:
                raise CatalogError(f"access request {request_id!r} already exists")
            dataset = session.get(Dataset, dataset_id)
            if dataset is None:
                raise CatalogError(f"request {request_id!r}: no dataset {dataset_id!r}")
            if project_id is not None and session.get(Project, project_id) is None:
                raise CatalogError(f"request {request_id!r}: no project {project_id!r}")
            classes = {c.name: c.classification for c in dataset.columns}
            if not columns:
                raise CatalogError(f"request {request_id!r}: name the columns needed")
            for column in columns:
                if column not in classes:
                    raise CatalogError(f"request {request_id!r}: dataset {dataset_id!r} has "
                                       f"no column {column!r}")
                if classes[column] == "direct_identifier":
                    raise CatalogError(f"request {request_id!r}: column {column!r} is a direct "
                                       "identifier and is never released")
            people = list(dict.fromkeys([actor, *researchers]))
            for person in people:
                user = session.get(User, person)
                if user is None or not user.active or user.role != "researcher":
                    raise CatalogError(f"request {request_id!r}: {person!r} is not an active "
                                       "researcher of the catalog")
            session.add(AccessRequest(
                id=request_id, dataset_id=dataset_id, requester_id=actor, purpose=purpose,
                release_form=release_form, columns=list(columns), researchers=people,
                justification=justification, starts_at=starts_at, ends_at=ends_at,
                state="draft", project_id=project_id, lawful_basis=lawful_basis,
                setting=setting, outputs=outputs))
            d.update({"dataset_id": dataset_id, "columns": list(columns), "form": release_form,
                      "purpose": purpose, "researchers": people, "ends_at": ends_at})
        return self.get_request(request_id)

    def submit_request(self, request_id: str, *, actor: str) -> None:
        with self._acting(actor, "request.submit", request_id) as (session, request, d):
            if request.ends_at is not None and request.ends_at <= utcnow():
                raise CatalogError(f"request {request_id!r}: its end date "
                                   f"{request.ends_at:%Y-%m-%d} has passed; redraft it")
            self._move(session, request, "submitted", actor, d)

    # -- review by one officer --------------------------------------------------------

    def start_review(self, request_id: str, *, actor: str) -> None:
        with self._acting(actor, "request.start_review", request_id) as (session, request, d):
            self._move(session, request, "under_review", actor, d)

    def attach_risk_report(self, request_id: str, report: Mapping[str, Any], *,
                           actor: str) -> None:
        """Attach the risk report (anonymize.risk_report(...).to_dict()) of the data."""
        doc = _report(report, request_id)
        with self._acting(actor, "request.attach_risk_report", request_id) as (
                session, request, d):
            require(session, actor, "request.attach_risk_report")
            if request.state != "under_review":
                raise CatalogError(f"request {request_id!r} is {request.state}: a risk report "
                                   "is attached while it is under_review")
            request.risk_report = doc
            d.update({"k": doc.get("k"), "records_at_risk": doc.get("records_at_risk")})

    def compute_risk_report(self, request_id: str, *, actor: str,
                            threshold: float = 0.2) -> dict[str, Any]:
        """Measure the requested columns' risk (anonymize.risk_report) and attach it.

        The quasi-identifiers and sensitive attributes are the requested columns the
        dataset classifies so; the data is read from the dataset's registered path.
        """
        import pandas as pd

        import anonymize

        request = self.get_request(request_id)
        with self._read() as session:
            dataset = session.get(Dataset, request.dataset_id)
            path = self._local(dataset.path)  # type: ignore[attr-defined]
            classes = {c.name: c.classification for c in dataset.columns}
        qi = [c for c in request.columns if classes.get(c) == "quasi_identifier"]
        sensitive = [c for c in request.columns if classes.get(c) == "sensitive"]
        if not qi:
            raise CatalogError(f"request {request_id!r} asks for no quasi-identifier: "
                               "there are no equivalence classes to measure")
        try:
            frame = pd.read_parquet(path, columns=qi + sensitive)
            report = anonymize.risk_report(frame, qi, sensitive, threshold=threshold)
        except (OSError, ValueError, anonymize.AnonymizeError) as exc:
            raise CatalogError(f"request {request_id!r}: cannot measure the risk of "
                               f"{path}: {exc}") from None
        self.attach_risk_report(request_id, report.to_dict(), actor=actor)
        return report.to_dict()

    def decide_request(self, request_id: str, decision: str, *, reason: str, actor: str,
                       risk_report: Mapping[str, Any] | None = None) -> None:
        """An officer approves or rejects a request (take-out goes to the committee)."""
        if decision not in ("approve", "reject"):
            raise CatalogError(f"request {request_id!r}: decision {decision!r} is not "
                               "approve or reject")
        why = _reason(reason, decision, request_id)
        doc = None if risk_report is None else _report(risk_report, request_id)
        target = "approved" if decision == "approve" else "rejected"
        with self._acting(actor, f"request.{decision}", request_id) as (session, request, d):
            self._move(session, request, target, actor, d, reason=why)
            if request.release_form == TAKE_OUT:
                raise CatalogError(f"request {request_id!r} is a take-out (반출): the release "
                                   "review committee decides it, not one officer")
            if doc is not None:
                request.risk_report = doc
            if decision == "approve" and request.risk_report is None:
                raise CatalogError(f"request {request_id!r}: attach the risk report of the "
                                   "data before approving it")
            session.add(Review(request_id=request_id, reviewer_id=actor, decision=decision,
                               reason=why, risk_report=request.risk_report or {}))

    # -- the take-out committee -------------------------------------------------------

    def appoint_committee(self, request_id: str, members: Sequence[str], *,
                          actor: str) -> None:
        """Seat the release review committee of a take-out request under review."""
        chosen = list(dict.fromkeys(members))
        self.committee_rules.check_size(len(chosen), request_id)
        quorum = self.committee_rules.quorum_for(len(chosen))
        with self._acting(actor, "committee.appoint", request_id) as (session, request, d):
            require(session, actor, "committee.appoint")
            if request.release_form != TAKE_OUT:
                raise CatalogError(f"request {request_id!r} is {request.release_form}: only "
                                   "take-out requests go to a committee")
            if request.state != "under_review":
                raise CatalogError(f"request {request_id!r} is {request.state}: a committee "
                                   "is appointed while it is under_review")
            if request.committee:
                raise CatalogError(f"request {request_id!r} already has a committee")
            people = {}
            for person_id in dict.fromkeys([request.requester_id, *request.researchers]):
                person = session.get(User, person_id)
                people[person_id] = person.organisation_id if person is not None else None
            for member_id in chosen:
                member = require(session, member_id, "committee.serve")
                check_no_tie(member_id, member.organisation_id, request_id, people,
                             request.requester_id)
                request.committee.append(CommitteeMember(reviewer_id=member_id,
                                                         appointed_by=actor))
            request.committee_quorum = quorum
            d.update({"members": chosen, "quorum": quorum})

    def vote(self, request_id: str, vote: str, *, reason: str, actor: str) -> Tally:
        """Cast a member's vote; once the outcome is settled the request is decided."""
        why = _reason(reason, "a committee vote", request_id)
        with self._acting(actor, "committee.vote", request_id) as (session, request, d):
            require(session, actor, "committee.vote")
            if request.state != "under_review":
                raise CatalogError(f"request {request_id!r} is {request.state}: votes are "
                                   "cast while it is under_review")
            if actor not in {m.reviewer_id for m in request.committee}:
                raise PermissionRefused(f"committee.vote refused: {actor!r} is not on the "
                                        f"committee of request {request_id!r}",
                                        actor=actor, action="committee.vote")
            if any(v.reviewer_id == actor for v in request.votes):
                raise CatalogError(f"request {request_id!r}: {actor!r} has already voted")
            counted = tally([*(v.vote for v in request.votes), vote], len(request.committee),
                            request.committee_quorum or 0)
            request.votes.append(CommitteeVote(reviewer_id=actor, vote=vote, reason=why))
            d.update({"vote": vote, "reason": why})
            if counted.verdict is not None:
                # The vote first, then the decision it settles, in the same transaction.
                session.flush()
                audit_log.append_entry(session, actor, "committee.vote", request_id, dict(d))
                self._committee_decides(session, request, counted, counted.verdict, actor, d)
            return counted

    def close_committee(self, request_id: str, *, actor: str) -> Tally:
        """Decide on the votes cast so far, once a quorum has voted."""
        with self._acting(actor, "committee.decide", request_id) as (session, request, d):
            require(session, actor, "committee.decide")
            if not request.committee or request.state != "under_review":
                raise CatalogError(f"request {request_id!r} has no committee deliberating")
            counted = tally([v.vote for v in request.votes], len(request.committee),
                            request.committee_quorum or 0)
            if not counted.quorate:
                raise CatalogError(f"request {request_id!r}: no quorum yet ({counted.cast} of "
                                   f"{counted.members} voted, {counted.quorum} needed)")
            self._committee_decides(session, request, counted, counted.passes, actor, d)
            return counted

    def _committee_decides(self, session: Session, request: AccessRequest, counted: Tally,
                           passes: bool, actor: str, details: dict[str, Any]) -> None:
        """Apply the committee's verdict: the request moves under the deciding member."""
        if passes and request.risk_report is None:
            raise CatalogError(f"request {request.id!r}: the committee approves, but no risk "
                               "report is attached; attach it before the deciding vote")
        if passes:
            project = session.get(Project, request.project_id) if request.project_id else None
            limits = self.risk_thresholds.stricter(
                (project.spec or {}).get("risk_thresholds") if project else None)
            failures = limits.failures(request.risk_report)
            if failures:
                raise CatalogError(
                    f"request {request.id!r}: the committee approves, but the attached risk "
                    f"report fails the take-out thresholds: {', '.join(failures)}; anonymise "
                    "further and attach the new report before the deciding vote")
        target = "approved" if passes else "rejected"
        summary = counted.summary(passes)
        self._move(session, request, target, actor, details, reason=summary,
                   extra={"committee": True})
        session.add(Review(request_id=request.id, reviewer_id=actor,
                           decision="approve" if passes else "reject",
                           reason=summary, risk_report=request.risk_report or {}))

    # -- access -----------------------------------------------------------------------

    def activate_request(self, request_id: str, *, actor: str) -> None:
        with self._acting(actor, "request.activate", request_id) as (session, request, d):
            if request.ends_at is not None and request.ends_at <= utcnow():
                raise CatalogError(f"request {request_id!r}: its end date has passed")
            self._move(session, request, "active", actor, d)

    def revoke_request(self, request_id: str, *, reason: str, actor: str) -> None:
        why = _reason(reason, "revocation", request_id)
        with self._acting(actor, "request.revoke", request_id) as (session, request, d):
            self._move(session, request, "revoked", actor, d, reason=why)

    def expire_due(self, *, now: datetime | None = None) -> list[str]:
        """Expire every active request past its end date (the scheduled sweep)."""
        return self._expire(now or utcnow(), None)

    def _expire(self, now: datetime, only: Sequence[str] | None) -> list[str]:
        query = select(AccessRequest.id).where(AccessRequest.state == "active",
                                               AccessRequest.ends_at <= now)
        if only is not None:
            query = query.where(AccessRequest.id.in_(only))
        with self._read() as session:
            due = list(session.scalars(query))
        expired = []
        for request_id in due:
            with self._write() as session:
                request = session.execute(select(AccessRequest).where(
                    AccessRequest.id == request_id).with_for_update()).scalar_one()
                if request.state != "active":  # another sweep got there first
                    continue
                details: dict[str, Any] = {}
                self._move(session, request, "expired", SYSTEM_EXPIRY, details,
                           reason=f"end date {request.ends_at.isoformat()} reached")
            expired.append(request_id)
        return expired

    def active_access(self, user_id: str, *, form: str = "secure_room") -> list[AccessInfo]:
        """What ``user_id`` may use now in ``form``; lapsed grants expire on this check."""
        with self._read() as session:
            mine = [r for r in session.scalars(select(AccessRequest).where(
                AccessRequest.state == "active", AccessRequest.release_form == form))
                if user_id in r.researchers or r.requester_id == user_id]
        now = utcnow()
        self._expire(now, [r.id for r in mine if r.ends_at is not None and r.ends_at <= now])
        return [AccessInfo(request_id=r.id, user_id=user_id, form=r.release_form,
                           datasets={r.dataset_id: list(r.columns)}, ends_at=r.ends_at)
                for r in mine if r.ends_at is None or r.ends_at > now]

    # -- reading ----------------------------------------------------------------------

    def get_request(self, request_id: str) -> RequestInfo:
        """One request (expired first if its end date has passed)."""
        self._expire(utcnow(), [request_id])
        with self._read() as session:
            request = session.scalars(self._requests_query().where(
                AccessRequest.id == request_id)).one_or_none()
            if request is None:
                raise CatalogError(f"no access request {request_id!r} in the catalog")
            return _request_info(request, session)

    def risk_limits(self, request_id: str) -> RiskThresholds:
        """The thresholds this request's risk report is held to: the deployment's,
        tightened by its project's (what the console flags and the committee enforces)."""
        with self._read() as session:
            request = session.get(AccessRequest, request_id)
            if request is None:
                raise CatalogError(f"no access request {request_id!r} in the catalog")
            project = session.get(Project, request.project_id) if request.project_id else None
            return self.risk_thresholds.stricter(  # type: ignore[attr-defined]
                (project.spec or {}).get("risk_thresholds") if project else None)

    def list_requests(self, *, states: Sequence[str] | None = None,
                      user_id: str | None = None) -> list[RequestInfo]:
        """Requests, oldest first; optionally in some states or involving one user."""
        self._expire(utcnow(), None)
        query = self._requests_query().order_by(AccessRequest.created_at, AccessRequest.id)
        if states:
            query = query.where(AccessRequest.state.in_(list(states)))
        with self._read() as session:
            found = [_request_info(r, session) for r in session.scalars(query)]
        if user_id is not None:
            found = [r for r in found if user_id in r.researchers or user_id in r.committee]
        return found

    def review_queue(self) -> list[RequestInfo]:
        """What awaits officers: submitted requests and those under review."""
        return self.list_requests(states=("submitted", "under_review"))

    @staticmethod
    def _requests_query() -> Any:
        return select(AccessRequest).options(
            selectinload(AccessRequest.committee), selectinload(AccessRequest.votes),
            selectinload(AccessRequest.reviews))
