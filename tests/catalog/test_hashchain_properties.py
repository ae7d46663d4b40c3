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
