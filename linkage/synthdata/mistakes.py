"""Identifier errors of the kinds real registers contain, one kind per affected record.

At most one error per record is the point: a record then still agrees with its true partner
on at least one of the exact recipes (rrn; name+dob+sex; name+phone), so a linkage that tries
them in turn can recover it, and a record escapes all recipes only when two independent
problems meet (an error here and a person who has no phone at all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linkage.synthdata.identity import MOBILE_SPACE
from linkage.synthdata.names import jamo_typo, swap_given

ERROR_KINDS = ("name_typo", "given_name_swap", "phone_missing", "phone_old", "rrn_typo",
               "rrn_missing")


@dataclass
class Identifiers:
    """A set of records' identifiers before they are written out as text."""

    names: np.ndarray
    surname_len: np.ndarray
    rrn: np.ndarray
    rrn_missing: np.ndarray
    phone_prefix: np.ndarray
    phone_subscriber: np.ndarray
    phone_missing: np.ndarray


def add_errors(rng: np.random.Generator, ids: Identifiers, typo_rate: float
               ) -> tuple[Identifiers, np.ndarray]:
    """Copies of ``ids`` where a ``typo_rate`` share of records carry one error each.

    Returns the changed identifiers and, per record, the index of the error kind applied
    (-1 for none). An error that would change nothing (swapping 지지, dropping a phone the
    person never had) is replaced by one that does, so every counted error is real.
    """
    n = len(ids.names)
    kind = np.where(rng.random(n) < typo_rate, rng.integers(0, len(ERROR_KINDS), size=n), -1)
    names, rrn = ids.names.copy(), ids.rrn.copy()
    prefix, subscriber = ids.phone_prefix.copy(), ids.phone_subscriber.copy()
    phone_missing, rrn_missing = ids.phone_missing.copy(), ids.rrn_missing.copy()

    swap = kind == ERROR_KINDS.index("given_name_swap")
    swapped, changed = swap_given(names[swap], ids.surname_len[swap])
    names[swap] = swapped
    unswappable = np.flatnonzero(swap)[~changed]
    kind[unswappable] = ERROR_KINDS.index("name_typo")
    typo = kind == ERROR_KINDS.index("name_typo")
    names[typo] = jamo_typo(rng, names[typo])

    kind[(kind == ERROR_KINDS.index("phone_missing")) & phone_missing] = ERROR_KINDS.index(
        "phone_old")
    phone_missing[kind == ERROR_KINDS.index("phone_missing")] = True
    old = kind == ERROR_KINDS.index("phone_old")
    shift = rng.integers(1, MOBILE_SPACE, size=n)
    subscriber[old] = (subscriber[old] - 20_000_000 + shift[old]) % MOBILE_SPACE + 20_000_000
    prefix[old] = 10
    phone_missing[old] = False

    wrong = np.flatnonzero(kind == ERROR_KINDS.index("rrn_typo"))
    position = rng.integers(0, 13, size=len(wrong))
    rrn[wrong, position] = (rrn[wrong, position] + rng.integers(1, 10, size=len(wrong))) % 10
    rrn_missing[kind == ERROR_KINDS.index("rrn_missing")] = True
    return Identifiers(names, ids.surname_len, rrn, rrn_missing, prefix, subscriber,
                       phone_missing), kind
