"""The airlock: release requests out of the secure room, checked twice and audited."""

from analysis_env.airlock.states import FINAL_STATES, STATES, TRANSITIONS, diagram
from analysis_env.airlock.workflow import (
    DECISIONS,
    Airlock,
    AirlockFile,
    AirlockRequest,
    CatalogPort,
    FileVote,
)

__all__ = ["DECISIONS", "FINAL_STATES", "STATES", "TRANSITIONS", "Airlock", "AirlockFile",
           "AirlockRequest", "CatalogPort", "FileVote", "diagram"]
