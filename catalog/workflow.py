"""The access-request state machine, as a table of ``catalog.state_machine``.

``ACCESS`` is the only place that says which state may follow which, which action of the
role matrix (``catalog.roles.PERMISSIONS``) each move is and who may never take it. The
request methods (``catalog.requests``), the tests (every pair of states, legal or not)
and the docs (docs/catalog.md, docs/security.md) all read it.

    draft -> submitted -> under_review -> approved | rejected
    approved -> active -> expired | revoked

A researcher takes back their own submission (withdraw: submitted | under_review -> draft)
and redrafts a refused one (amend: rejected -> draft); a draft is amended in place. Renewal
is no move: it drafts a new request from an active one (``catalog.researcher``).
"""

from __future__ import annotations

from types import MappingProxyType

from catalog.models import REQUEST_STATES
from catalog.state_machine import OTHERS, OWNER, SYSTEM, IllegalTransition, Machine, Transition

#: The actor recorded when a request expires by itself at its end date.
SYSTEM_EXPIRY = "system:expiry"

ACCESS = Machine(
    noun="request", states=REQUEST_STATES, initial="draft", system_actor=SYSTEM_EXPIRY,
    transitions=(
        Transition("draft", "submitted", "request.submit", OWNER,
                   why="the requester sends the draft for review"),
        Transition("submitted", "under_review", "request.start_review", OTHERS,
                   why="an officer takes it up"),
        Transition("under_review", "approved", "request.approve", OTHERS,
                   why="an officer approves, with the risk report (a take-out: its committee)"),
        Transition("under_review", "rejected", "request.reject", OTHERS,
                   why="an officer (a take-out: its committee) refuses, with a reason"),
        Transition("approved", "active", "request.activate", OTHERS,
                   why="access is opened"),
        Transition("active", "expired", "request.expire", SYSTEM,
                   why="its end date passes"),
        Transition("active", "revoked", "request.revoke", OTHERS,
                   why="an officer withdraws the grant, with a reason"),
        Transition("submitted", "draft", "request.withdraw", OWNER,
                   why="the requester takes it back"),
        Transition("under_review", "draft", "request.withdraw", OWNER,
                   why="the requester takes it back before any committee vote"),
        Transition("rejected", "draft", "request.amend", OWNER,
                   why="the requester redrafts a refused request"),
    ))

#: (from, to) -> the move; kept for callers of the old table.
TRANSITIONS: MappingProxyType[tuple[str, str], Transition] = MappingProxyType(ACCESS.table)

#: States a request never leaves.
FINAL_STATES = ACCESS.final_states


def transition(source: str, target: str, request_id: str) -> Transition:
    """The transition from ``source`` to ``target``, or a refusal that says what may follow.

    >>> transition("draft", "submitted", "r1").action
    'request.submit'
    >>> transition("draft", "approved", "r1")
    Traceback (most recent call last):
    ...
    catalog.state_machine.IllegalTransition: request 'r1' is draft and cannot become \
approved; from draft it may only become submitted
    """
    return ACCESS.step(source, target, request_id)


def diagram() -> str:
    """The state machine as a Mermaid diagram (docs/security.md and docs/catalog.md)."""
    return ACCESS.mermaid()


__all__ = ["ACCESS", "FINAL_STATES", "SYSTEM_EXPIRY", "TRANSITIONS", "IllegalTransition",
           "diagram", "transition"]
