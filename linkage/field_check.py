"""Refuse a column that normalising would mostly throw away (issue 20).

An invalid identifier becomes null, so its record gets no key from that field. A few such
values are typos; most of a column means the spec gave it the wrong kind (Australian
postcodes declared as Korean ``postcode``), and linking on with that field silently
missing costs recall nobody sees. So past a small share, ``prepare`` stops and says which
column, which kind, how many, the shapes of two of them (never a value) and what the kind
expects; the holder either fixes the spec or accepts the loss by naming the column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from linkage.errors import InputError, LinkageError
from linkage.spec import HolderSpec

#: Invalid values allowed in a column, as a share of the values given in it.
DEFAULT_MAX_INVALID_SHARE = 0.05


def check_accept_options(holder: HolderSpec, accept: Iterable[str], max_share: float) -> set[str]:
    """The accepted columns, after checking they are this holder's identifier columns."""
    if isinstance(max_share, bool) or not 0 <= max_share <= 1:
        raise LinkageError(f"--max-invalid-share {max_share!r}: give a share between 0 and 1")
    accepted = set(accept)
    unknown = sorted(accepted - set(holder.identifiers))
    if unknown:
        known = ", ".join(f"'{c}'" for c in holder.identifiers)
        raise LinkageError(f"--accept-invalid {unknown[0]}: not an identifier column of holder "
                           f"'{holder.id}' (its identifier columns: {known})")
    return accepted


def refuse_lost_columns(input_path: str | Path, holder: HolderSpec, present: Mapping[str, int],
                        invalid: Mapping[str, int], examples: Mapping[str, list[str]], *,
                        accepted: set[str], max_share: float) -> None:
    """Raise :class:`InputError` naming every column whose invalid share is over ``max_share``.

    ``present``, ``invalid`` and ``examples`` are per kind, as normalising counts them.
    """
    from linkage.normalise import EXPECTS

    problems: list[tuple[str, str]] = []
    for column, kind in holder.identifiers.items():
        lost, given = invalid.get(kind, 0), present.get(kind, 0)
        if not lost or column in accepted or lost <= max_share * given:
            continue
        shapes = ", ".join(examples.get(kind, [])) or "?"
        problems.append((column, (
            f"{lost:,} of {given:,} values ({lost / given:.1%}) are not valid for kind "
            f"'{kind}' and would be dropped (at most {max_share:.0%} may be); found shapes "
            f"such as {shapes}; kind '{kind}' expects {EXPECTS.get(kind, 'its own format')}. "
            f"Fix the data or the column's kind in the spec, or accept the loss with "
            f"--accept-invalid {column}")))
    if not problems:
        return
    column, first = problems[0]
    others = "".join(f"; column '{c}': {p}" for c, p in problems[1:])
    raise InputError(input_path, first + others, column=column)


__all__ = ["DEFAULT_MAX_INVALID_SHARE", "check_accept_options", "refuse_lost_columns"]
