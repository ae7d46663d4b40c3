"""What every generalisation hierarchy offers, and the simplest one: a value or ``*``.

A hierarchy is a list of levels, level 0 the finest. ``generalise(values, level)`` maps a whole
column to the labels of one level at once, so the lattice search can generalise the distinct
values of a column rather than its rows. Every level must be a coarsening of the one below
(each label at level i falls inside one label at level i + 1): the search's pruning and the
loss measures rely on it. The top level is always the single label ``*`` (fully suppressed).
Missing values stay missing below the top: "unknown" is a value of its own, as in the risk
measures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pandas as pd

from anonymize.errors import AnonymizeError

#: The label of the top level of every hierarchy: nothing about the value is released.
SUPPRESSED = "*"


class Hierarchy(ABC):
    """A generalisation hierarchy over one column."""

    kind: str = "hierarchy"
    #: The label of the top level (``*``; 전국 for administrative areas).
    top_label: str = SUPPRESSED
    #: Level names, finest first; the last one is always ``"*"``.
    levels: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        """The highest level index (the ``*`` level)."""
        return len(self.levels) - 1

    def level_index(self, level: int | str) -> int:
        """A level given by index or by name, as an index.

        >>> CategoryHierarchy().level_index("*")
        1
        """
        if isinstance(level, str):
            if level not in self.levels:
                raise AnonymizeError(f"{self.kind} hierarchy has no level {level!r} "
                                     f"(levels: {', '.join(self.levels)})")
            return self.levels.index(level)
        if not 0 <= level <= self.height:
            raise AnonymizeError(f"{self.kind} hierarchy has levels 0..{self.height}, "
                                 f"not {level}")
        return int(level)

    def prepare(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """The column's level-0 values; a hierarchy that needs a companion column (a 시군구
        name needs its 시도) reads it here."""
        return frame[column]

    def generalise(self, values: pd.Series, level: int | str) -> pd.Series:
        """The labels of ``values`` at ``level`` (same index)."""
        index = self.level_index(level)
        values = pd.Series(values)
        if index == 0:
            return values
        if index == self.height:
            return pd.Series(self.top_label, index=values.index, dtype=object)
        out = self._generalise(values, index)
        return out.where(values.notna(), None)

    @abstractmethod
    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        """Labels at an intermediate level (0 < level < height); missing values are restored
        by the caller."""

    def describe(self) -> dict:
        """What a report shows of this hierarchy."""
        return {"kind": self.kind, "levels": list(self.levels)}


class CategoryHierarchy(Hierarchy):
    """A categorical value, optionally grouped, then ``*``.

    >>> h = CategoryHierarchy({"기초연금": "연금", "장애인복지": "복지"}, name="group")
    >>> h.levels
    ('value', 'group', '*')
    >>> h.generalise(pd.Series(["기초연금", "장애인복지", "none"]), "group").tolist()
    ['연금', '복지', 'none']
    >>> CategoryHierarchy().generalise(pd.Series(["F", "M"]), 1).tolist()
    ['*', '*']
    """

    kind = "category"

    def __init__(self, groups: dict[object, str] | None = None, *, name: str = "group"):
        self.groups = dict(groups or {})
        self.levels = ("value", name, SUPPRESSED) if self.groups else ("value", SUPPRESSED)

    def _generalise(self, values: pd.Series, level: int) -> pd.Series:
        # Values outside the grouping stay themselves: a group of one.
        return values.map(self.groups).fillna(values).astype(object)
