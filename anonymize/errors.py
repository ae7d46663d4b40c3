"""The one user-facing error of the anonymize subsystem."""

from __future__ import annotations


class AnonymizeError(Exception):
    """Bad input or a refused action in anonymisation; the message names the column or setting."""
