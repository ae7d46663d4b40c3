"""The audit log's hash chain, as pure functions over entries.

Each entry's hash covers its own content and the previous entry's hash, so a changed
entry no longer matches its hash, and a deleted or moved one breaks the next link.
Entries are hashed over canonical JSON so that any implementation (or an auditor with
``sha256sum`` and ``jq -cS``) recomputes the same digest from an export.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, Protocol

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text kept as is.

    >>> canonical_json({"b": 1, "a": ["서울", 2.5]})
    '{"a":["서울",2.5],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def jsonable(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details as plain JSON values, exactly as they will read back from the database.

    Dates and paths become strings; NaN and infinities are refused because JSON (and
    PostgreSQL) cannot hold them.

    >>> jsonable({"when": date(2026, 1, 2), 3: (1, 2)})
    {'when': '2026-01-02', '3': [1, 2]}
    """

    def convert(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, PurePath):
            return str(value)
        if isinstance(value, set | frozenset):
            return sorted(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    for number in _floats(details):
        if not math.isfinite(number):
            raise ValueError(f"audit details hold {number}, which JSON cannot represent")
    return json.loads(json.dumps(dict(details), default=convert, ensure_ascii=False))


def _floats(value: Any) -> Iterable[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _floats(item)


def entry_hash(seq: int, ts: datetime, actor: str, action: str, target: str,
               details: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the entry's canonical JSON.

    >>> entry_hash(1, datetime(2026, 1, 1, tzinfo=UTC), "officer", "release.record",
    ...            "dp-1", {"epsilon": 1.0}, GENESIS_HASH)[:16]
    '2249155d53421961'
    """
    document = {
        "seq": seq,
        "ts": ts.astimezone(UTC).isoformat(),
        "actor": actor,
        "action": action,
        "target": target,
        "details": dict(details),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    id: int
    seq: int
    ts: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def recomputed(self) -> str:
        return entry_hash(self.seq, self.ts, self.actor, self.action, self.target,
                          self.details, self.prev_hash)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.id, "ts": self.ts.astimezone(UTC).isoformat(),
                "actor": self.actor, "action": self.action, "target": self.target,
                "details": self.details, "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True)
class AuditVerification:
    """The verdict of ``audit verify``: problems name the entry (seq and id) and the fault."""

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    #: The last seq a valid signed checkpoint covers; None when no checkpoints were read.
    anchored_seq: int | None = None
    #: Entries after the last checkpoint: consistent, but nothing outside the database vouches
    #: for them, so they are not "intact" (a forged tail would look exactly like this).
    unanchored: int = 0

    @property
    def intact(self) -> bool:
        return self.ok and self.unanchored == 0


class SignedHead(Protocol):
    """A checkpoint's claim (``catalog.checkpoints.Checkpoint``); ``valid`` checks its signature."""

    seq: int
    head: str
    line: int

    @property
    def where(self) -> str: ...

    @property
    def valid(self) -> bool: ...


def _forged(point: SignedHead) -> str:
    return f"{point.where}: signature does not verify (line forged or altered)"


def _top_signed(agreeing: list[SignedHead], forged: dict[int, str]) -> int:
    """The highest seq an agreeing, validly signed checkpoint covers; drops forged ones."""
    while agreeing and not agreeing[-1].valid:
        point = agreeing.pop()
        forged[point.line] = _forged(point)
    return agreeing[-1].seq if agreeing else 0


def verify_chain(entries: Iterable[ChainEntry], head_seq: int, head_hash: str,
                 anchors: Mapping[int, Sequence[SignedHead]] | None = None
                 ) -> AuditVerification:
    """Walk the entries in seq order and report every broken link, first one first.

    A link failure right after an entry already reported as changed is a consequence of
    that change, not news, so it is not reported again; gaps in seq always are.
    ``anchors`` maps a seq to the checkpoints that claim a head hash for it. A chain that
    was rewritten and recomputed passes every link but not these: the first entry whose
    hash differs from a validly signed checkpoint is named, a signed seq past the end
    means a cut tail, and entries past the highest agreeing signed checkpoint are
    ``unanchored``. Since each hash covers every entry before it, that one checkpoint
    vouches for the whole chain up to it; only it and the disagreeing lines need their
    signatures checked.
    """
    problems: list[str] = []
    checked = anchors is not None
    anchors = anchors or {}
    agreeing: list[SignedHead] = []
    forged: dict[int, str] = {}
    disagreeing = 0
    count = 0
    last_seq = 0
    last_hash = GENESIS_HASH
    last_changed = False
    last_id: int | None = None
    for entry in entries:
        count += 1
        name = f"entry seq {entry.seq} (id {entry.id})"
        if entry.seq > last_seq + 1:
            missing = (f"seq {last_seq + 1}" if entry.seq == last_seq + 2
                       else f"seq {last_seq + 1}..{entry.seq - 1}")
            problems.append(f"{name}: {missing} missing before it (entries deleted)")
        elif entry.seq <= last_seq:
            problems.append(f"{name}: out of order after seq {last_seq}")
        if entry.prev_hash != last_hash and not last_changed:
            problems.append(f"{name}: prev_hash does not match the hash of the entry before it "
                            f"(seq {last_seq}): an entry was deleted, inserted or reordered")
        if last_id is not None and entry.id < last_id:
            # Rows are inserted under the chain lock, so ids grow with seq unless moved.
            problems.append(f"{name}: stored before entry seq {last_seq} (id {last_id}) "
                            "although it comes after it (entries reordered)")
        changed = entry.recomputed() != entry.hash
        if changed:
            problems.append(f"{name}: content does not match its hash (entry changed)")
        for point in anchors.get(entry.seq, ()):
            if point.head == entry.hash:
                agreeing.append(point)
            elif not point.valid:
                forged[point.line] = _forged(point)
            else:
                disagreeing += 1
                if disagreeing > 1:
                    continue
                agreed = _top_signed(agreeing, forged)
                span = ("this entry was rewritten or inserted" if agreed == entry.seq - 1
                        else f"an entry in seq {agreed + 1}..{entry.seq} was rewritten, "
                        f"inserted or deleted (seq {agreed} is the last checkpoint that agrees)")
                problems.append(f"{name}: its hash differs from the one signed in "
                                f"{point.where}: {span}, and the hashes after it recomputed")
        last_seq, last_hash, last_changed, last_id = entry.seq, entry.hash, changed, entry.id
    if disagreeing > 1:
        problems.append(f"{disagreeing - 1} later checkpoints disagree with the log too")
    beyond = sorted((p for seq, points in anchors.items() if seq > last_seq for p in points),
                    key=lambda p: p.seq, reverse=True)
    for point in beyond:
        if point.valid:
            cut = f"seq {point.seq}" if point.seq == last_seq + 1 else \
                f"seq {last_seq + 1}..{point.seq}"
            problems.append(f"{point.where} signs seq {point.seq} but the log ends at seq "
                            f"{last_seq}: {cut} missing (entries deleted from the end, "
                            "chain head rewound)")
            break
        forged[point.line] = _forged(point)
    signed_last = _top_signed(agreeing, forged)
    problems = [forged[line] for line in sorted(forged)] + problems
    if head_seq > last_seq:
        missing = f"seq {last_seq + 1}" if head_seq == last_seq + 1 else \
            f"seq {last_seq + 1}..{head_seq}"
        problems.append(f"the chain head records seq {head_seq} but the log ends at seq "
                        f"{last_seq}: {missing} missing (entries deleted from the end)")
    elif head_seq == last_seq and head_hash != last_hash:
        problems.append(f"the chain head's hash does not match entry seq {last_seq}")
    elif head_seq < last_seq:
        problems.append(f"the log runs to seq {last_seq} past the chain head at seq {head_seq}: "
                        "entries were added outside the catalog")
    if not checked:
        return AuditVerification(ok=not problems, entries=count, problems=problems)
    return AuditVerification(ok=not problems, entries=count, problems=problems,
                             anchored_seq=signed_last, unanchored=last_seq - signed_last)
