"""The secure analysis room (DESIGN 7): JupyterHub configuration, authenticator and
spawner (``analysis_env.hub``, imported lazily since it needs JupyterHub), and the
airlock through which results leave.
"""

from analysis_env.airlock import (
    DECISIONS,
    STATES,
    TRANSITIONS,
    Airlock,
    AirlockFile,
    AirlockRequest,
    FileVote,
    diagram,
)
from analysis_env.errors import AnalysisEnvError

__all__ = [
    "DECISIONS",
    "STATES",
    "TRANSITIONS",
    "Airlock",
    "AirlockFile",
    "AirlockRequest",
    "AnalysisEnvError",
    "FileVote",
    "diagram",
]
