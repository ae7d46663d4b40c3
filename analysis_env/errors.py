"""The one user-facing error of the analysis room."""

from __future__ import annotations


class AnalysisEnvError(Exception):
    """Bad input or a refused action in the room or the airlock; the message says which."""
