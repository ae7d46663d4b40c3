"""What an operator with write access to the catalog's database can do to the audit log.

Drop the append-only triggers, rewrite the entries any way they like, recompute every
hash and the chain head, and put the triggers back. Nothing in the database can tell
afterwards; only something the database does not hold (signed checkpoints) can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.orm import Session

from catalog.hashchain import GENESIS_HASH, entry_hash
from catalog.models import AuditChainHead, AuditEntry

Entries = list[dict[str, Any]]

_PG_TRIGGERS = ("audit_log_append_only", "audit_log_no_truncate")
_PG_CREATE = {
    "audit_log_append_only": "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE "
                             "ON audit_log FOR EACH ROW EXECUTE FUNCTION "
                             "audit_log_refuse_change()",
    "audit_log_no_truncate": "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "
                             "audit_log FOR EACH STATEMENT EXECUTE FUNCTION "
                             "audit_log_refuse_change()",
}


def rewrite_log(url: str, change: Callable[[Entries], Entries]) -> None:
    """Replace the log by ``change(entries)``, renumbered and rehashed, head included.

    Each entry is a dict of ts, actor, action, target and details; ids and seqs are
    given afresh in list order, so the result is a chain no link of which is broken.
    """
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            postgres = engine.dialect.name == "postgresql"
            for trigger in _PG_TRIGGERS if postgres else ("audit_log_no_update",
                                                           "audit_log_no_delete"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"
                                     + (" ON audit_log" if postgres else "")))
            rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
            first_id = rows[0].id if rows else 1
            entries = [{"ts": r.ts, "actor": r.actor, "action": r.action, "target": r.target,
                        "details": dict(r.details)} for r in rows]
            session.execute(delete(AuditEntry))
            previous = GENESIS_HASH
            seq = 0
            for seq, entry in enumerate(change(entries), start=1):
                digest = entry_hash(seq, entry["ts"], entry["actor"], entry["action"],
                                    entry["target"], entry["details"], previous)
                session.add(AuditEntry(id=first_id + seq - 1, seq=seq, prev_hash=previous,
                                       hash=digest, **entry))
                previous = digest
            session.flush()
            head = session.get(AuditChainHead, 1)
            head.seq, head.hash = seq, previous
            if postgres:
                session.execute(text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'),"
                                     " (SELECT max(id) FROM audit_log))"))
                for trigger in _PG_TRIGGERS:
                    session.execute(text(_PG_CREATE[trigger]))
    finally:
        engine.dispose()
