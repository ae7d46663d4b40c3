"""The airlock's request states, as data.

``TRANSITIONS`` is the only place that says which state may follow which and who may
make the move; ``analysis_env.airlock.workflow`` reads it for every change and
docs/analysis-room.md shows ``diagram()`` (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from analysis_env.errors import AnalysisEnvError

STATES = ("submitted", "returned", "approved", "rejected", "released", "withdrawn")


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    #: Who may cause it: the request's author, an output checker, or the votes themselves.
    by: str
    why: str


TRANSITIONS: MappingProxyType[tuple[str, str], Transition] = MappingProxyType({
    (t.source, t.target): t for t in (
        Transition("submitted", "approved", "votes",
                   "two checkers other than the author approved every file"),
        Transition("submitted", "returned", "votes",
                   "both votes are in and a checker asked for changes"),
        Transition("submitted", "rejected", "votes",
                   "both votes are in and a checker rejected a file"),
        Transition("returned", "submitted", "author",
                   "the author resubmits, with edited files whose votes start again"),
        Transition("submitted", "withdrawn", "author", "the author withdraws it"),
        Transition("returned", "withdrawn", "author", "the author withdraws it"),
        Transition("approved", "released", "checker",
                   "a checker copies the approved files to the author's outbox"),
    )
})

FINAL_STATES = tuple(s for s in STATES if not any(k[0] == s for k in TRANSITIONS))


def transition(source: str, target: str, request_id: str) -> Transition:
    """The move from ``source`` to ``target``, or a refusal saying what may follow.

    >>> transition("approved", "released", "r1").by
    'checker'
    >>> transition("submitted", "released", "r1")
    Traceback (most recent call last):
    ...
    analysis_env.errors.AnalysisEnvError: airlock request 'r1' is submitted and cannot \
become released; from submitted it may only become approved, returned, rejected or withdrawn
    """
    found = TRANSITIONS.get((source, target))
    if found is not None:
        return found
    onward = [t for s, t in TRANSITIONS if s == source]
    hint = (f"from {source} it may only become "
            f"{', '.join(onward[:-1]) + ' or ' + onward[-1] if len(onward) > 1 else onward[0]}"
            if onward else f"{source} is final")
    raise AnalysisEnvError(f"airlock request {request_id!r} is {source} and cannot become "
                           f"{target}; {hint}")


def diagram() -> str:
    """The table as Markdown, for docs/analysis-room.md."""
    lines = ["| from | to | by | when |", "|---|---|---|---|"]
    lines += [f"| {t.source} | {t.target} | {t.by} | {t.why} |" for t in TRANSITIONS.values()]
    return "\n".join(lines)
