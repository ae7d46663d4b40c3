"""Extraction of linked records only, at the holder: withdrawn, and why.

Earlier versions had the key manager send each holder the serials of its records that
linked (``H.matched.age``), so the holder could send the agency only those. Joined to its
crosswalk, that file told the holder exactly which of its people are in the other holders'
registers: the building register learned which owners receive welfare benefits. Holders now
send the payload of every record, and ``combine`` keeps the linked ones and discards the
rest unread (DESIGN 10, docs/security.md). ``check_key_version`` stays here for ``link``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkage.errors import LinkageError
from linkage.keys.project import ProjectManifest

WITHDRAWN = ("`holder extract` is withdrawn: a list of the records that matched would tell "
             "the holder who is in the other holders' registers. Send the full payload "
             "(H.payload.age from `holder prepare`) to the combination agency; `combine` keeps "
             "only linked records and reports how many it discarded")


def check_key_version(path: str | Path, envelope_manifest: dict[str, Any],
                      project: ProjectManifest) -> None:
    """Keys of two project-key versions never agree, so mixing them would silently miss links."""
    version = envelope_manifest.get("key_version", 1)
    if version != project.key_version:
        raise LinkageError(
            f"{path}: prepared under project key version {version}, but project {project.id} "
            f"is at version {project.key_version}; the holder must run `pseudolink holder "
            "prepare` again under the current key")


def extract(*_args: object, **_kwargs: object) -> None:
    """Refuse, explaining the flow that replaced extraction (see the module docstring)."""
    raise LinkageError(WITHDRAWN)


__all__ = ["WITHDRAWN", "check_key_version", "extract"]
