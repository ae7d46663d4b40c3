"""Appending to, reading and exporting the audit log; ``AuditService`` is its service.

The functions work inside a caller's transaction; the service records events that
change nothing else, verifies the chain, signs checkpoints and exports the log.

Appends lock the single chain-head row (``SELECT ... FOR UPDATE``; on SQLite the
``BEGIN IMMEDIATE`` of every writing transaction does it), so two concurrent writers
can never both link to the same predecessor and fork the chain.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.checkpoints import (
    Anchor,
    Checkpoint,
    CheckpointFile,
    append_checkpoint,
    read_checkpoints,
)
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.hashchain import (
    AuditVerification,
    ChainEntry,
    canonical_json,
    entry_hash,
    jsonable,
    verify_chain,
)
from catalog.models import AuditChainHead, AuditEntry

_BATCH = 1000
#: Key in ``Session.info``: the (seq, hash) a writing transaction will commit as the head.
HEAD_AFTER_COMMIT = "pseudolink_audit_head"


def append_entry(session: Session, actor: str, action: str, target: str,
                 details: Mapping[str, Any]) -> int:
    """Add one entry in the session's transaction; returns its seq."""
    for label, value in (("actor", actor), ("action", action), ("target", target)):
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"an audit entry needs a non-empty {label}, got {value!r}")
    try:
        clean = jsonable(details)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"audit details for {action} on {target!r}: {exc}") from None
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        raise CatalogError("the audit chain head is missing: the catalog is damaged "
                           "or was not created by `pseudolink init`")
    seq = head.seq + 1
    ts = utcnow()
    digest = entry_hash(seq, ts, actor, action, target, clean, head.hash)
    session.add(AuditEntry(seq=seq, ts=ts, actor=actor, action=action, target=target,
                           details=clean, prev_hash=head.hash, hash=digest))
    head.seq, head.hash = seq, digest
    session.flush()
    # The head this transaction leaves behind, for a checkpoint once it commits.
    session.info[HEAD_AFTER_COMMIT] = (seq, digest)
    return seq


def iter_entries(session: Session) -> Iterator[ChainEntry]:
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(_BATCH)
    for row in rows.scalars():
        yield ChainEntry(id=row.id, seq=row.seq, ts=row.ts, actor=row.actor,
                         action=row.action, target=row.target, details=row.details,
                         prev_hash=row.prev_hash, hash=row.hash)


def current_head(session: Session) -> tuple[int, str]:
    head = session.get(AuditChainHead, 1)
    if head is None:
        raise CatalogError("the audit chain head is missing: the catalog is damaged "
                           "or was not created by `pseudolink init`")
    return head.seq, head.hash


def verify(session: Session, checkpoints: CheckpointFile | None = None) -> AuditVerification:
    """The chain's own links, and with ``checkpoints`` every signed checkpoint as well."""
    head = session.get(AuditChainHead, 1)
    if head is None:
        return AuditVerification(ok=False, entries=0,
                                 problems=["the audit chain head row is missing"])
    if checkpoints is None:
        return verify_chain(iter_entries(session), head.seq, head.hash)
    points, problems = read_checkpoints(checkpoints)
    anchors: dict[int, list[Checkpoint]] = {}
    for point in points:
        anchors.setdefault(point.seq, []).append(point)
    verdict = verify_chain(iter_entries(session), head.seq, head.hash, anchors)
    if not problems:
        return verdict
    # Line problems first, in file order, then what the chain walk found.
    lines = [p for p in verdict.problems if p.startswith("checkpoint line ")]
    rest = [p for p in verdict.problems if not p.startswith("checkpoint line ")]
    ordered = sorted(problems + lines, key=lambda p: int(p.split()[2]))
    return replace(verdict, ok=False, problems=ordered + rest)


def export(session: Session, out: Path) -> int:
    """Write every entry as one JSON line to ``out`` (complete or not at all)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            for entry in iter_entries(session):
                stream.write(canonical_json(entry.to_dict()) + "\n")
                count += 1
        os.replace(temp_name, out)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return count


class AuditService:
    """The audit log of one catalog: events, verification, checkpoints and export.

    ``storage`` is a ``catalog.storage.Storage`` (not imported here: it builds on this
    module's ``append_entry``).
    """

    def __init__(self, storage: Any) -> None:
        self._storage = storage

    def audit(self, actor: str, action: str, target: str, details: dict) -> None:
        """Record an event that changes nothing in the catalog (a login, a download)."""
        if not isinstance(details, Mapping):
            raise CatalogError(f"details of {action} must be a mapping, "
                               f"got {type(details).__name__}")
        with self._storage.change(actor, action, target) as change:
            try:
                change.details = jsonable(details)
            except (TypeError, ValueError) as exc:
                raise CatalogError(f"details of {action}: {exc}") from None

    def verify_audit(self, checkpoints: CheckpointFile | None = None) -> AuditVerification:
        """Check the hash chain; with ``checkpoints``, also against every signed checkpoint.

        Without checkpoints a rewritten chain whose hashes were recomputed passes: only
        a key the database does not hold can tell (see ``catalog.checkpoints``).
        """
        with self._storage.read() as session:
            return verify(session, checkpoints)

    def checkpoint_audit(self, anchor: Anchor | None = None) -> tuple[int, str]:
        """Sign the current chain head into the checkpoint file; returns (seq, head)."""
        anchor = anchor or self._storage.anchor
        if anchor is None:
            raise CatalogError("no audit signing key to checkpoint with")
        with self._storage.read() as session:
            seq, head = current_head(session)
        append_checkpoint(anchor.path, anchor.signer, seq, head)
        return seq, head

    def export_audit(self, out: Path) -> int:
        """Write the log as JSON lines (complete file or none); returns the entry count."""
        with self._storage.read() as session:
            return export(session, Path(out))

    def audit_entries(self) -> list[dict[str, Any]]:
        with self._storage.read() as session:
            return [entry.to_dict() for entry in iter_entries(session)]
