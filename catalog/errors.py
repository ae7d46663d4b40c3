"""The one error users of the catalog see: a refused or impossible catalog action."""

from __future__ import annotations


class CatalogError(Exception):
    """Bad input or a refused action; the message names the record and what to do.

    The CLI prints it as ``error: <message>`` and exits with code 2.
    """
