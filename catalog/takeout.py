"""Take-out (반출) releases: only for an approved take-out request, only to its requester.

``takeout_order`` says what ``pseudolink release takeout`` may build: the request's
dataset and columns, the thresholds the extract must meet (the deployment's, tightened
by the project's), and the age recipient of the requester. ``record_takeout`` records the
encrypted extract as a closed release tied to the request (never open data), so the
sweep destroys it when the request ends or the release is revoked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from catalog import audit as audit_log
from catalog.coltypes import utcnow
from catalog.committee import RiskThresholds
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.models import AccessRequest, Dataset, Project, Release, User
from catalog.roles import require
from catalog.storage import Storage

#: An age X25519 recipient: "age1" and 58 bech32 characters.
AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
#: Request states in which a take-out may be built: approved (or already activated).
RELEASABLE = ("approved", "active")


@dataclass(frozen=True)
class TakeoutOrder:
    request_id: str
    dataset_id: str
    path: str
    project_id: str | None
    columns: dict[str, str]
    k: int
    prosecutor_risk_max: float
    requester: str
    recipient: str
    ends_at: datetime | None


class TakeoutService:
    """Take-out orders and their recording, held to the deployment's risk thresholds."""

    def __init__(self, storage: Storage, risk_thresholds: RiskThresholds) -> None:
        self._storage = storage
        self.risk_thresholds = risk_thresholds

    def set_age_recipient(self, user_id: str, recipient: str, *, actor: str) -> None:
        """Record the public age key a user's take-outs are encrypted to (theirs, or an admin's)."""
        recipient = recipient.strip()
        if not AGE_RECIPIENT.fullmatch(recipient):
            raise CatalogError(f"{recipient[:12]!r}...: not an age X25519 recipient "
                               "(age1 followed by 58 characters, from `age-keygen -y`)")
        with self._storage.write() as session:
            if actor != user_id:
                require(session, actor, "user.manage")
            user = session.get(User, user_id)
            if user is None or not user.active:
                raise CatalogError(f"no active user {user_id!r} in the catalog")
            previous, user.age_recipient = user.age_recipient, recipient
            session.flush()
            audit_log.append_entry(session, actor, "user.age_recipient", user_id,
                                   {"recipient": recipient, "previous": previous})

    def takeout_order(self, request_id: str, *, actor: str) -> TakeoutOrder:
        """What the take-out of ``request_id`` must be; refused for anything but an approved
        take-out request not yet released, or when the requester has no age recipient."""
        self._storage.require(actor, "release.record")  # audits a refusal
        with self._storage.read() as session:
            request = session.get(AccessRequest, request_id)
            if request is None:
                raise CatalogError(f"no access request {request_id!r} in the catalog")
            if request.release_form != "take_out":
                raise CatalogError(f"request {request_id!r} asks for a {request.release_form} "
                                   "release, not a take-out: nothing may leave for it")
            if request.state not in RELEASABLE:
                raise CatalogError(f"request {request_id!r} is {request.state}: a take-out is "
                                   "built only once the committee has approved it")
            done = session.scalars(select(Release.id).where(
                Release.request_id == request_id, Release.revoked_at.is_(None))).first()
            if done is not None:
                raise CatalogError(f"request {request_id!r} was already answered by release "
                                   f"{done!r}; revoke it first to build another")
            requester = session.get(User, request.requester_id)
            if requester is None or not requester.age_recipient:
                raise CatalogError(f"requester {request.requester_id!r} has no age recipient "
                                   "recorded: they run `age-keygen`, and an admin records the "
                                   "public key with `pseudolink catalog user recipient`")
            dataset = session.get(Dataset, request.dataset_id)
            classes = {c.name: c.classification for c in dataset.columns}
            project = session.get(Project, request.project_id) if request.project_id else None
            limits = self.risk_thresholds.stricter(
                (project.spec or {}).get("risk_thresholds") if project else None)
            return TakeoutOrder(
                request_id=request.id, dataset_id=dataset.id,
                path=self._storage.local(dataset.path),
                project_id=request.project_id or dataset.project_id,
                columns={c: classes.get(c, "other") for c in request.columns},
                k=limits.k, prosecutor_risk_max=limits.prosecutor_risk_max,
                requester=requester.id, recipient=requester.age_recipient,
                ends_at=request.ends_at)

    def record_takeout(self, release_id: str, order: TakeoutOrder, *, artifact: str,
                       checksum: str, parameters: dict[str, Any], actor: str) -> None:
        """Record the encrypted extract: closed, tied to its request, expiring with it."""
        with self._storage.write() as session:
            require(session, actor, "release.record")
            if session.get(Release, release_id) is not None:
                raise CatalogError(f"release {release_id!r} exists already")
            details = {"request_id": order.request_id, "dataset_id": order.dataset_id,
                       "form": "take_out", "checksum": checksum, "recipient": order.recipient,
                       "parameters": jsonable(parameters), "expires_at": order.ends_at}
            session.add(Release(
                id=release_id, dataset_id=order.dataset_id, request_id=order.request_id,
                form="take_out", title=f"Take-out for request {order.request_id}",
                artifact=self._storage.stored(artifact),
                checksum=checksum, parameters=jsonable(parameters),
                is_open=False, expires_at=order.ends_at, created_at=utcnow()))
            session.flush()
            audit_log.append_entry(session, actor, "release.record", release_id, details)
