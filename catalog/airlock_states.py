"""The airlock's request states, as a table of ``catalog.state_machine``.

A researcher asks for outputs to leave the secure room; two privacy officers other than
the author vote on every file; the vote that completes the second review moves the
request, under that checker's name; a checker releases an approved request to the
author's outbox. ``catalog.airlock`` reads this table for every move, and
docs/catalog.md shows it (a test keeps the two equal).
"""

from __future__ import annotations

from catalog.models import AIRLOCK_STATES
from catalog.state_machine import OTHERS, OWNER, Machine, Transition

#: Votes each file version needs, each from a different checker, before a decision.
REVIEWS_NEEDED = 2

AIRLOCK = Machine(
    noun="airlock request", states=AIRLOCK_STATES, initial="submitted",
    transitions=(
        Transition("submitted", "approved", "airlock.approved", OTHERS,
                   permission="stage.airlock_decision",
                   why="two checkers other than the author approved every file"),
        Transition("submitted", "returned", "airlock.returned", OTHERS,
                   permission="stage.airlock_decision",
                   why="both votes are in and a checker asked for changes"),
        Transition("submitted", "rejected", "airlock.rejected", OTHERS,
                   permission="stage.airlock_decision",
                   why="both votes are in and a checker rejected a file"),
        Transition("returned", "submitted", "airlock.submitted", OWNER,
                   permission="airlock.request",
                   why="the author resubmits, with edited files whose votes start again"),
        Transition("submitted", "withdrawn", "airlock.withdrawn", OWNER,
                   permission="airlock.request", why="the author withdraws it"),
        Transition("returned", "withdrawn", "airlock.withdrawn", OWNER,
                   permission="airlock.request", why="the author withdraws it"),
        Transition("approved", "released", "airlock.release", OTHERS,
                   why="a checker copies the approved files to the author's outbox"),
    ))
