"""The access-request state machine, as data.

``TRANSITIONS`` is the only place that says which state may follow which, and which
action of the role matrix (``catalog.roles.PERMISSIONS``) each move is. The facade,
the tests (every pair of states, legal or not) and docs/security.md all read it.

    draft -> submitted -> under_review -> approved | rejected
    approved -> active -> expired | revoked

A researcher takes back their own submission (withdraw: submitted | under_review -> draft)
and redrafts a refused one (amend: rejected -> draft); a draft is amended in place. Renewal
is no move: it drafts a new request from an active one (``catalog.researcher``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from catalog.errors import CatalogError
from catalog.models import REQUEST_STATES


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    action: str
    #: Only the researcher who created the request may take it (a submission is theirs).
    requester_only: bool = False


TRANSITIONS: MappingProxyType[tuple[str, str], Transition] = MappingProxyType({
    (t.source, t.target): t for t in (
        Transition("draft", "submitted", "request.submit", requester_only=True),
        Transition("submitted", "under_review", "request.start_review"),
        Transition("under_review", "approved", "request.approve"),
        Transition("under_review", "rejected", "request.reject"),
        Transition("approved", "active", "request.activate"),
        Transition("active", "expired", "request.expire"),
        Transition("active", "revoked", "request.revoke"),
        Transition("submitted", "draft", "request.withdraw", requester_only=True),
        Transition("under_review", "draft", "request.withdraw", requester_only=True),
        Transition("rejected", "draft", "request.amend", requester_only=True),
    )
})

#: States a request never leaves.
FINAL_STATES = tuple(s for s in REQUEST_STATES if not any(k[0] == s for k in TRANSITIONS))


def transition(source: str, target: str, request_id: str) -> Transition:
    """The transition from ``source`` to ``target``, or a refusal that says what may follow.

    >>> transition("draft", "submitted", "r1").action
    'request.submit'
    >>> transition("draft", "approved", "r1")
    Traceback (most recent call last):
    ...
    catalog.workflow.IllegalTransition: request 'r1' is draft and cannot become approved; \
from draft it may only become submitted
    """
    for state in (source, target):
        if state not in REQUEST_STATES:
            raise CatalogError(f"request {request_id!r}: {state!r} is not a request state "
                               f"({', '.join(REQUEST_STATES)})")
    found = TRANSITIONS.get((source, target))
    if found is not None:
        return found
    onward = [t for s, t in TRANSITIONS if s == source]
    hint = (f"from {source} it may only become {' or '.join(onward)}" if onward
            else f"{source} is final")
    raise IllegalTransition(f"request {request_id!r} is {source} and cannot become "
                            f"{target}; {hint}")


def diagram() -> str:
    """The state machine as a Mermaid diagram (docs/security.md embeds it)."""
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    lines += [f"    {t.source} --> {t.target}: {t.action}" for t in TRANSITIONS.values()]
    lines += [f"    {state} --> [*]" for state in FINAL_STATES]
    return "\n".join(lines)


class IllegalTransition(CatalogError):
    """A move the state machine does not allow from the request's current state."""
