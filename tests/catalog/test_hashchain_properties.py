"""Any single change to any entry of a chain is found, and named by its seq."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from catalog.hashchain import GENESIS_HASH, ChainEntry, entry_hash, verify_chain

START = datetime(2026, 1, 1, tzinfo=UTC)
details = st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8),
                                                         st.booleans(), st.none()), max_size=3)


def _chain(payloads: list[tuple[str, dict]]) -> list[ChainEntry]:
    entries, previous = [], GENESIS_HASH
    for seq, (actor, detail) in enumerate(payloads, start=1):
        ts = START + timedelta(seconds=seq)
        digest = entry_hash(seq, ts, actor, "act", "target", detail, previous)
        entries.append(ChainEntry(seq, seq, ts, actor, "act", "target", detail, previous, digest))
        previous = digest
    return entries


payloads = st.lists(st.tuples(st.text(min_size=1, max_size=6), details), min_size=1,
                    max_size=8)


@given(payloads)
def test_an_untouched_chain_verifies(items: list[tuple[str, dict]]) -> None:
    entries = _chain(items)
    verdict = verify_chain(entries, entries[-1].seq, entries[-1].hash)
    assert verdict.ok and verdict.entries == len(entries)


@given(payloads, st.data())
def test_a_changed_field_is_named_first(items: list[tuple[str, dict]], data: st.DataObject
                                        ) -> None:
    entries = _chain(items)
    index = data.draw(st.integers(0, len(entries) - 1))
    victim = entries[index]
    field, value = data.draw(st.sampled_from([
        ("actor", victim.actor + "x"),
        ("details", {**victim.details, "forged": 1}),
        ("ts", victim.ts + timedelta(microseconds=1)),
        ("target", "elsewhere"),
    ]))
    entries[index] = dataclasses.replace(victim, **{field: value})
    verdict = verify_chain(entries, entries[-1].seq, entries[-1].hash)
    assert not verdict.ok
    assert verdict.problems[0].startswith(f"entry seq {victim.seq} ")


@given(payloads.filter(lambda items: len(items) >= 2), st.data())
def test_a_deleted_entry_is_found(items: list[tuple[str, dict]], data: st.DataObject) -> None:
    entries = _chain(items)
    head = entries[-1]
    del entries[data.draw(st.integers(0, len(entries) - 1))]
    verdict = verify_chain(entries, head.seq, head.hash)
    assert not verdict.ok
    assert any("missing" in problem for problem in verdict.problems)


@dataclasses.dataclass
class _Signed:
    """A checkpoint as the verifier sees it (catalog.checkpoints.Checkpoint), signature given."""

    seq: int
    head: str
    line: int
    where: str
    valid: bool = True


def _signed_every_write(entries: list[ChainEntry]) -> dict[int, list[_Signed]]:
    return {e.seq: [_Signed(e.seq, e.hash, e.seq, f"line {e.seq}")] for e in entries}


@given(payloads, st.data())
def test_any_rewrite_with_every_hash_recomputed_is_named_by_the_checkpoints(
        items: list[tuple[str, dict]], data: st.DataObject) -> None:
    """The operator's rewrite: change one entry and rebuild the chain after it."""
    original = _chain(items)
    anchors = _signed_every_write(original)
    index = data.draw(st.integers(0, len(items) - 1))
    actor, detail = items[index]
    rewritten = _chain([*items[:index], (actor + "x", detail), *items[index + 1:]])
    head = rewritten[-1]
    assert verify_chain(rewritten, head.seq, head.hash).ok  # the chain alone is fooled
    verdict = verify_chain(rewritten, head.seq, head.hash, anchors)
    assert not verdict.ok
    assert verdict.problems[0].startswith(f"entry seq {index + 1} ")


@given(payloads, st.data())
def test_a_cut_tail_is_found_and_a_forged_tail_is_never_intact(
        items: list[tuple[str, dict]], data: st.DataObject) -> None:
    original = _chain(items)
    keep = data.draw(st.integers(0, len(items) - 1))
    anchors = _signed_every_write(original)
    cut = original[:keep]
    head_seq, head_hash = (cut[-1].seq, cut[-1].hash) if cut else (0, GENESIS_HASH)
    verdict = verify_chain(cut, head_seq, head_hash, anchors)
    assert not verdict.ok and f"log ends at seq {keep}" in verdict.problems[-1]
    # Checkpoints up to `keep` only, and a forged tail recomputed after it: unanchored.
    forged = _chain([*items[:keep], ("forger", {})])
    partial = {seq: points for seq, points in anchors.items() if seq <= keep}
    verdict = verify_chain(forged, forged[-1].seq, forged[-1].hash, partial)
    assert verdict.ok and not verdict.intact and verdict.unanchored == 1
