"""One core for every request workflow: a machine is a table of transitions, as data.

Access requests (``catalog.workflow.ACCESS``) and airlock requests
(``catalog.airlock_states.AIRLOCK``) are each declared as a ``Machine``: which state may
follow which, the role-matrix action each move is (``catalog.roles.PERMISSIONS`` says
which roles hold it) and who may never take it (nobody acts on their own request; some
moves are the owner's alone; some happen only by themselves). ``Machine.apply`` checks
the actor, changes the row's state and appends the audit entry in the caller's
transaction, so the state and its audit entry commit together or not at all. The same
tables render the Mermaid diagrams in docs/catalog.md (a test keeps them in sync).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from catalog import audit as audit_log
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.models import User
from catalog.roles import PERMISSIONS, PermissionRefused, require

#: Who may take a move, beyond holding its role-matrix action.
OWNER = "owner"  # only the person whose request it is
OTHERS = "others"  # anyone but the request's own people (nobody reviews their own request)
SYSTEM = "system"  # no person: the move happens by itself (an end date passes)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    #: The audit action written for the move.
    action: str
    #: Who may make it: OWNER, OTHERS or SYSTEM.
    who: str
    #: The role-matrix action the actor must hold; the audit action by default.
    permission: str = ""
    why: str = ""

    @property
    def right(self) -> str:
        return self.permission or self.action

    @property
    def roles(self) -> frozenset[str]:
        """The roles the matrix lets take this move (none for a move by itself)."""
        return frozenset() if self.who == SYSTEM else PERMISSIONS[self.right]


class Stateful(Protocol):
    """A row a machine moves: its id and state, and when it last changed."""

    id: str
    state: str
    updated_at: Any


class IllegalTransition(CatalogError):
    """A move the state machine does not allow from the request's current state."""


@dataclass(frozen=True)
class Machine:
    """A request type's states and the transitions between them."""

    #: How the machine's requests are named in messages ("request", "airlock request").
    noun: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    #: The actor recorded for moves that happen by themselves.
    system_actor: str = "system"
    _by_pair: dict[tuple[str, str], Transition] = field(init=False, repr=False,
                                                        compare=False)

    def __post_init__(self) -> None:
        pairs = {(t.source, t.target): t for t in self.transitions}
        if len(pairs) != len(self.transitions):
            raise ValueError(f"{self.noun}: two transitions share a (from, to) pair")
        for t in self.transitions:
            if {t.source, t.target} - set(self.states):
                raise ValueError(f"{self.noun}: {t.source} -> {t.target} names an unknown state")
            if t.who not in (OWNER, OTHERS, SYSTEM):
                raise ValueError(f"{self.noun}: {t.action} has unknown 'who' {t.who!r}")
            if t.who != SYSTEM and t.right not in PERMISSIONS:
                raise ValueError(f"{self.noun}: {t.right} is not in the role matrix")
        object.__setattr__(self, "_by_pair", pairs)

    @property
    def table(self) -> Mapping[tuple[str, str], Transition]:
        return dict(self._by_pair)

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(s for s in self.states if not any(t.source == s for t in self.transitions))

    def step(self, source: str, target: str, subject: str) -> Transition:
        """The move from ``source`` to ``target``, or a refusal saying what may follow."""
        for state in (source, target):
            if state not in self.states:
                raise CatalogError(f"{self.noun} {subject!r}: {state!r} is not a state "
                                   f"({', '.join(self.states)})")
        found = self._by_pair.get((source, target))
        if found is not None:
            return found
        onward = [t.target for t in self.transitions if t.source == source]
        if not onward:
            hint = f"{source} is final"
        elif len(onward) == 1:
            hint = f"from {source} it may only become {onward[0]}"
        else:
            hint = (f"from {source} it may only become {', '.join(onward[:-1])} or "
                    f"{onward[-1]}")
        raise IllegalTransition(f"{self.noun} {subject!r} is {source} and cannot become "
                                f"{target}; {hint}")

    def check(self, session: Session, step: Transition, actor: str, *, subject: str,
              owner: str, parties: Iterable[str] = ()) -> User | None:
        """The acting user if they may make ``step``; else ``PermissionRefused``."""
        if step.who == SYSTEM:
            if actor != self.system_actor:
                raise PermissionRefused(f"{step.action} refused: nobody takes it; it happens "
                                        "by itself", actor=actor, action=step.right)
            return None
        user = require(session, actor, step.right)
        if step.who == OWNER and actor != owner:
            raise PermissionRefused(f"{step.action} refused: {self.noun} {subject!r} belongs "
                                    f"to {owner!r}, not {actor!r}", actor=actor,
                                    action=step.right)
        if step.who == OTHERS and (actor == owner or actor in set(parties)):
            raise PermissionRefused(f"{step.action} refused: {actor!r} is one of the "
                                    f"people of {self.noun} {subject!r}; nobody acts on "
                                    "their own request", actor=actor, action=step.right)
        return user

    def apply(self, session: Session, row: Stateful, target: str, actor: str, *,
              owner: str, parties: Iterable[str] = (), reason: str | None = None,
              details: Mapping[str, Any] | None = None) -> Transition:
        """Check, move and audit in the caller's transaction; returns the move made.

        The audit entry is appended in ``session`` before it commits, so a failing audit
        rolls the move back with everything else the transaction did.
        """
        step = self.step(row.state, target, row.id)
        self.check(session, step, actor, subject=row.id, owner=owner, parties=parties)
        entry: dict[str, Any] = {"from": row.state, "to": target}
        if reason is not None:
            entry["reason"] = reason
        entry.update(details or {})
        row.state = target
        row.updated_at = utcnow()
        session.flush()
        audit_log.append_entry(session, actor, step.action, row.id, entry)
        return step

    def mermaid(self) -> str:
        """The machine as a Mermaid state diagram: each arrow says its action and roles."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            lines.append(f"    {t.source} --> {t.target}: {t.action} ({_who(t)})")
        lines += [f"    {state} --> [*]" for state in self.final_states]
        return "\n".join(lines)

    def markdown_table(self) -> str:
        """The machine as a Markdown table of moves, who may make them and why."""
        lines = ["| from | to | audit action | who | when |", "|---|---|---|---|---|"]
        lines += [f"| {t.source} | {t.target} | `{t.action}` | {_who(t)} | {t.why} |"
                  for t in self.transitions]
        return "\n".join(lines)


def _who(t: Transition) -> str:
    if t.who == SYSTEM:
        return "by itself"
    roles = " or ".join(sorted(t.roles)) or "nobody"
    return {OWNER: f"{roles}; owner only", OTHERS: f"{roles}; not its own people"}[t.who]


def render_docs(machines: Iterable[tuple[str, Machine]]) -> str:
    """The generated part of docs/catalog.md: each machine's diagram and table."""
    parts = []
    for title, machine in machines:
        parts += [f"### {title}", "", "```mermaid", machine.mermaid(), "```", "",
                  machine.markdown_table(), ""]
    return "\n".join(parts).rstrip("\n")
