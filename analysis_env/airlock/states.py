"""The airlock's request states: the table is ``catalog.AIRLOCK`` (one state-machine core
for access and airlock requests, ``catalog.state_machine``); this module keeps the
names the room has always offered.

docs/analysis-room.md shows ``diagram()`` and docs/catalog.md the Mermaid diagram (tests
keep both equal to the table).
"""

from __future__ import annotations

from types import MappingProxyType

import catalog
from analysis_env.errors import AnalysisEnvError

STATES = catalog.AIRLOCK.states
TRANSITIONS = MappingProxyType(catalog.AIRLOCK.table)
FINAL_STATES = catalog.AIRLOCK.final_states


def transition(source: str, target: str, request_id: str) -> object:
    """The move from ``source`` to ``target``, or a refusal saying what may follow.

    >>> transition("approved", "released", "r1").action
    'airlock.release'
    >>> transition("submitted", "released", "r1")
    Traceback (most recent call last):
    ...
    analysis_env.errors.AnalysisEnvError: airlock request 'r1' is submitted and cannot \
become released; from submitted it may only become approved, returned, rejected or withdrawn
    """
    try:
        return catalog.AIRLOCK.step(source, target, request_id)
    except catalog.CatalogError as exc:
        raise AnalysisEnvError(str(exc)) from None


def diagram() -> str:
    """The table as Markdown, for docs/analysis-room.md."""
    return catalog.AIRLOCK.markdown_table()
