"""What a researcher does with their own requests, and what they may see of the catalog.

Amending, withdrawing and renewing are the requester's alone (``requester_only`` in
``catalog.workflow``; ``request.amend|withdraw|renew`` in the role matrix). Each change and
its audit entry are written in one transaction by ``RequestMethods._acting``. The reading
helpers here (``my_requests``, ``my_takeouts``, ``approved_uses``) show a researcher only
what involves them: the portal and the CLI read the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.models import (
    PURPOSES,
    RELEASE_FORMS,
    AccessRequest,
    CommitteeVote,
    Dataset,
    Release,
    User,
)
from catalog.requests import RequestInfo
from catalog.roles import PermissionRefused, require

#: The fields of a draft a researcher may change; anything else is refused by name.
AMENDABLE = ("purpose", "lawful_basis", "justification", "researchers", "setting", "columns",
             "outputs", "starts_at", "ends_at", "release_form")
#: States whose request may be withdrawn (taken back to draft) by its requester.
WITHDRAWABLE = ("submitted", "under_review")
#: States whose grant may be renewed: approved and not yet expired or revoked.
RENEWABLE = ("approved", "active")


@dataclass(frozen=True)
class ApprovedUse:
    """One approved or active use of a dataset: which purpose and form, until when."""

    request_id: str
    purpose: str
    release_form: str
    columns: list[str]
    ends_at: datetime | None


@dataclass(frozen=True)
class TakeoutInfo:
    """A take-out release answering one of the user's requests (the file is encrypted to them)."""

    release_id: str
    request_id: str
    dataset_id: str
    checksum: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


def _owner(request: AccessRequest, actor: str, action: str) -> None:
    if actor != request.requester_id:
        raise PermissionRefused(f"{action} refused: request {request.id!r} belongs to "
                                f"{request.requester_id!r}, not {actor!r}", actor=actor,
                                action=action)


class ResearcherMethods:
    """The requester's half of ``catalog.request_service.RequestService``.

    ``_acting``, ``_move``, ``get_request``, ``create_request`` and ``list_requests`` come
    from ``RequestMethods``; ``_read``, ``_local`` and ``audit`` from the service.
    """

    _acting: Any
    _move: Any
    _read: Any
    _local: Any
    get_request: Any
    create_request: Any
    list_requests: Any
    audit: Any

    # -- changing one's own requests ---------------------------------------------------

    def amend_request(self, request_id: str, *, actor: str, **changes: Any) -> RequestInfo:
        """Change a draft's Five Safes; a rejected request is redrafted first.

        Redrafting clears the committee and its votes of the last round (the audit log
        keeps every vote); the reviews and their reasons stay for the researcher to read.
        """
        unknown = sorted(set(changes) - set(AMENDABLE))
        if unknown:
            raise CatalogError(f"request {request_id!r}: cannot amend {', '.join(unknown)}; "
                               f"amendable: {', '.join(AMENDABLE)}")
        with self._acting(actor, "request.amend", request_id) as (session, request, d):
            require(session, actor, "request.amend")
            _owner(request, actor, "request.amend")
            if request.state not in ("draft", "rejected"):
                raise CatalogError(f"request {request_id!r} is {request.state}: only a draft "
                                   "or a rejected request is amended; withdraw it first")
            before = {field: getattr(request, field) for field in changes}
            self._apply(session, request, changes)
            request.updated_at = utcnow()
            d.update({"changed": sorted(changes),
                      "before": {k: v for k, v in before.items() if k != "justification"}})
            if request.state == "rejected":
                # The move writes the one audit entry of the amendment (ACCESS.apply).
                self._move(session, request, "draft", actor, d,
                           reason="amended after rejection", extra=dict(d))
                session.execute(delete(CommitteeVote).where(
                    CommitteeVote.request_id == request.id))
                request.committee.clear()
                request.committee_quorum = None
                request.risk_report = None
        return self.get_request(request_id)

    def _apply(self, session: Any, request: AccessRequest, changes: dict[str, Any]) -> None:
        """Check and set amended fields with the rules ``create_request`` applies."""
        rid = request.id
        if "purpose" in changes and changes["purpose"] not in PURPOSES:
            raise CatalogError(f"request {rid!r}: purpose {changes['purpose']!r} is not one "
                               f"of {', '.join(PURPOSES)}")
        for label in ("lawful_basis", "setting", "outputs"):
            if label in changes and not str(changes[label]).strip():
                raise CatalogError(f"request {rid!r}: the {label.replace('_', ' ')} must be "
                                   "stated")
        if "columns" in changes:
            dataset = session.get(Dataset, request.dataset_id)
            classes = {c.name: c.classification for c in dataset.columns}
            if not changes["columns"]:
                raise CatalogError(f"request {rid!r}: name the columns needed")
            for column in changes["columns"]:
                if column not in classes:
                    raise CatalogError(f"request {rid!r}: dataset {request.dataset_id!r} has "
                                       f"no column {column!r}")
                if classes[column] == "direct_identifier":
                    raise CatalogError(f"request {rid!r}: column {column!r} is a direct "
                                       "identifier and is never released")
            changes["columns"] = list(changes["columns"])
        if "researchers" in changes:
            people = list(dict.fromkeys([request.requester_id, *changes["researchers"]]))
            for person in people:
                user = session.get(User, person)
                if user is None or not user.active or user.role != "researcher":
                    raise CatalogError(f"request {rid!r}: {person!r} is not an active "
                                       "researcher of the catalog")
            changes["researchers"] = people
        for field in ("starts_at", "ends_at"):
            value = changes.get(field)
            if value is not None and value.tzinfo is None:
                raise CatalogError(f"request {rid!r}: {field} needs a time zone")
        if "ends_at" in changes and changes["ends_at"] is None:
            raise CatalogError(f"request {rid!r}: an end date is required")
        starts = changes.get("starts_at", request.starts_at)
        ends = changes.get("ends_at", request.ends_at)
        if starts is not None and ends is not None and starts >= ends:
            raise CatalogError(f"request {rid!r}: starts_at must precede ends_at")
        if "release_form" in changes and changes["release_form"] not in RELEASE_FORMS:
            raise CatalogError(f"request {rid!r}: release form {changes['release_form']!r} "
                               f"is not one of {', '.join(RELEASE_FORMS)}")
        for field, value in changes.items():
            setattr(request, field, value)

    def withdraw_request(self, request_id: str, *, actor: str, reason: str = "") -> None:
        """Take a submission back to draft before it is decided (its requester only).

        Refused once a committee member has voted: a vote cast on what was submitted
        stands, and the officers decide it.
        """
        with self._acting(actor, "request.withdraw", request_id) as (session, request, d):
            if request.state not in WITHDRAWABLE:
                raise CatalogError(f"request {request_id!r} is {request.state}: only a "
                                   "submitted request or one under review is withdrawn")
            if request.votes:
                raise CatalogError(f"request {request_id!r}: the committee has started "
                                   "voting; it can no longer be withdrawn")
            self._move(session, request, "draft", actor, d,
                       reason=reason.strip() or "withdrawn by the requester")
            request.committee.clear()
            request.committee_quorum = None

    def renew_request(self, request_id: str, new_id: str, *, ends_at: datetime,
                      actor: str, justification: str = "") -> RequestInfo:
        """Draft ``new_id``, the renewal of an approved or active request, to run to ``ends_at``.

        Renewal is reviewed like any request (the grant runs on until its own end date);
        it is asked before expiry, and only by the requester.
        """
        refused = None
        with self._read() as session:
            request = session.get(AccessRequest, request_id)
            if request is None:
                raise CatalogError(f"no access request {request_id!r} in the catalog")
            try:
                require(session, actor, "request.renew")
                _owner(request, actor, "request.renew")
            except PermissionRefused as exc:
                refused = exc
        if refused is not None:
            # Audited after the read transaction closes (SQLite has one writer).
            self.audit(actor, "access.refused", request_id,
                       {"action": refused.action, "reason": str(refused)})
            raise refused
        with self._read() as session:
            request = session.get(AccessRequest, request_id)
            if request.state not in RENEWABLE:
                raise CatalogError(f"request {request_id!r} is {request.state}: only an "
                                   "approved or active request is renewed; draft a new one")
            if request.ends_at is not None and request.ends_at <= utcnow():
                raise CatalogError(f"request {request_id!r} ended on "
                                   f"{request.ends_at:%Y-%m-%d}: draft a new request")
            if ends_at.tzinfo is None:
                raise CatalogError(f"request {request_id!r}: ends_at needs a time zone")
            if request.ends_at is not None and ends_at <= request.ends_at:
                raise CatalogError(f"request {request_id!r}: a renewal must end after "
                                   f"{request.ends_at:%Y-%m-%d}")
            fields = dict(
                dataset_id=request.dataset_id, columns=list(request.columns),
                release_form=request.release_form, purpose=request.purpose,
                lawful_basis=request.lawful_basis, researchers=list(request.researchers),
                setting=request.setting, outputs=request.outputs,
                starts_at=request.ends_at, project_id=request.project_id,
                justification=(justification.strip() or request.justification))
        renewal = self.create_request(new_id, ends_at=ends_at, actor=actor, **fields)
        with self._acting(actor, "request.renew", request_id, lock=False) as (_s, _r, d):
            d.update({"renewal": new_id, "ends_at": ends_at})
        return renewal

    # -- reading what is one's own ------------------------------------------------------

    def my_requests(self, user_id: str) -> list[RequestInfo]:
        """Requests ``user_id`` made or is a researcher on, newest first."""
        found = self.list_requests()
        return sorted((r for r in found if r.requester_id == user_id
                       or user_id in r.researchers),
                      key=lambda r: r.created_at, reverse=True)

    def request_for(self, request_id: str, user_id: str) -> RequestInfo:
        """The request if ``user_id`` is on it; otherwise the same refusal as an unknown id,
        so that nobody learns which ids exist."""
        try:
            request = self.get_request(request_id)
        except CatalogError:
            request = None
        if request is None or (user_id != request.requester_id
                               and user_id not in request.researchers):
            raise CatalogError(f"no access request {request_id!r} of yours in the catalog")
        return request

    def my_takeouts(self, user_id: str) -> list[TakeoutInfo]:
        """Take-out releases answering requests ``user_id`` made (encrypted to them alone)."""
        with self._read() as session:
            rows = session.execute(
                select(Release, AccessRequest.requester_id)
                .join(AccessRequest, Release.request_id == AccessRequest.id)
                .where(Release.form == "take_out", AccessRequest.requester_id == user_id)
                .order_by(Release.created_at.desc())).all()
            return [TakeoutInfo(release_id=r.id, request_id=r.request_id,
                                dataset_id=r.dataset_id, checksum=r.checksum,
                                created_at=r.created_at, expires_at=r.expires_at,
                                revoked=r.revoked_at is not None) for r, _ in rows]

    def takeout_file(self, release_id: str, user_id: str) -> str:
        """Where the encrypted take-out file lies, for its requester while it is live."""
        now = utcnow()
        for takeout in self.my_takeouts(user_id):
            if takeout.release_id == release_id:
                if takeout.revoked or (takeout.expires_at is not None
                                       and takeout.expires_at <= now):
                    raise CatalogError(f"take-out {release_id!r} is revoked or expired")
                with self._read() as session:
                    return self._local(session.get(Release, release_id).artifact)
        raise CatalogError(f"no take-out {release_id!r} of yours in the catalog")

    def approved_uses(self, dataset_ids: Sequence[str] | None = None
                      ) -> dict[str, list[ApprovedUse]]:
        """Per dataset, the approved and active uses (purpose, form, columns, end date)."""
        query = select(AccessRequest).where(AccessRequest.state.in_(RENEWABLE))
        if dataset_ids is not None:
            query = query.where(AccessRequest.dataset_id.in_(list(dataset_ids)))
        uses: dict[str, list[ApprovedUse]] = {}
        with self._read() as session:
            for r in session.scalars(query.order_by(AccessRequest.created_at)):
                uses.setdefault(r.dataset_id, []).append(ApprovedUse(
                    request_id=r.id, purpose=r.purpose, release_form=r.release_form,
                    columns=list(r.columns), ends_at=r.ends_at))
        return uses
