"""The generalisation lattice: every combination of one hierarchy level per quasi-identifier,
each node evaluated against a privacy target with record suppression, and its loss.

A node is evaluated on the table's distinct level-0 QI combinations (with their record
counts), never its rows: generalising maps each column's distinct values through a small
lookup array, and the classes are a group-by of those combinations. A 1M-row table with four
QIs has at most a few hundred thousand combinations, and far fewer above the lowest levels.

Suppression follows ARX: the records of every class that fails the target (smaller than k,
fewer than l distinct sensitive values, or farther than t from the whole table's
distribution) are suppressed, and the node meets the target when they are at most the
allowed share of the records and some record is left.

Loss measures (all grow under generalisation and suppression; see ``search.py`` for why that
matters), with n records, QI set Q, kept classes of size f:

* discernibility (Bayardo and Agrawal 2005, ARX's DM*): ``Σ f² + n × suppressed``;
* average equivalence class size (LeFevre et al. 2006): ``n / classes``, the suppressed
  records counting as one class (they all read ``*``);
* non-uniform entropy (Gionis and Tassa 2009; ARX): over every cell,
  ``-log2(count(original value) / count(values with the same label))`` bits, a suppressed
  cell costing as at the top level;
* precision (Sweeney 2002's Prec, as ARX's loss): the mean over cells of
  ``level / height`` of its hierarchy, 1 for a suppressed cell. 0 = original, 1 = all ``*``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import Hierarchy
from anonymize.sdc import diversity
from anonymize.sdc.risk import _is_ordered

LOSSES = ("precision", "discernibility", "avg_class_size", "non_uniform_entropy")
Node = tuple[int, ...]
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Target:
    """What a released table must satisfy."""

    k: int
    l: int | None = None  # distinct l-diversity of every sensitive attribute  # noqa: E741
    t: float | None = None  # t-closeness (EMD) of every sensitive attribute
    max_suppression: float = 0.0  # share of records that may be suppressed

    def __post_init__(self):
        if self.k < 1:
            raise AnonymizeError(f"k must be at least 1, got {self.k}")
        if self.l is not None and self.l < 1:
            raise AnonymizeError(f"l must be at least 1, got {self.l}")
        if self.t is not None and not 0 <= self.t <= 1:
            raise AnonymizeError(f"t must be in [0, 1], got {self.t}")
        if not 0 <= self.max_suppression <= 1:
            raise AnonymizeError(f"maximum suppression must be a share in [0, 1], "
                                 f"got {self.max_suppression}")


@dataclass(frozen=True)
class NodeResult:
    node: Node
    meets: bool  # the whole target within the suppression limit
    monotone_ok: bool  # k and l alone within the limit: true for every generalisation too
    suppressed: int
    classes: int  # kept classes
    smallest_class: int  # among kept classes (0 when none is kept)
    loss: dict[str, float] = field(default_factory=dict)


@dataclass
class _Column:
    hierarchy: Hierarchy
    maps: list[np.ndarray]  # per level: level-0 code -> label code
    cards: list[int]  # labels per level
    costs: list[np.ndarray]  # per level: non-uniform entropy bits per level-0 code
    top_cost: np.ndarray


class Lattice:
    """The search space of one table, QI set, hierarchies and sensitive attributes."""

    def __init__(self, frame: pd.DataFrame, qi: list[str], hierarchies: dict[str, Hierarchy],
                 sensitive: list[str] | None = None, progress: Progress | None = None):
        self.qi, self.sensitive = list(qi), list(sensitive or [])
        self.n = len(frame)
        if self.n == 0:
            raise AnonymizeError("the data has no records")
        self.columns: list[_Column] = []
        codes = []
        for i, col in enumerate(self.qi):
            if progress:
                progress("hierarchies", i, len(self.qi))
            values = hierarchies[col].prepare(frame, col)
            level0, uniques = pd.factorize(values, use_na_sentinel=False)
            codes.append(level0)
            self.columns.append(_build_column(hierarchies[col], pd.Series(uniques, name=col),
                                              np.bincount(level0, minlength=len(uniques)),
                                              self.n))
        grouped = pd.DataFrame(dict(enumerate(codes)), copy=False).groupby(
            list(range(len(codes))), sort=False)
        record_row = grouped.ngroup().to_numpy()
        self.record_row = record_row  # each record's base combination
        self.weights = np.bincount(record_row).astype(np.int64)
        first = np.full(len(self.weights), -1)
        first[record_row[::-1]] = np.arange(self.n)[::-1]
        self.base = np.column_stack([c[first] for c in codes])  # combinations x QIs
        self.sensitive_pairs = [_sensitive_pairs(frame[s], record_row) for s in self.sensitive]
        self.heights = tuple(c.hierarchy.height for c in self.columns)

    @property
    def size(self) -> int:
        return int(np.prod([h + 1 for h in self.heights]))

    def classes_of(self, node: Node) -> tuple[np.ndarray, np.ndarray]:
        """Class id of each base combination at ``node``, and the class sizes."""
        key = np.zeros(len(self.base), dtype=np.int64)
        span = 1
        for i, level in enumerate(node):
            column = self.columns[i]
            card = column.cards[level]
            if span * card >= 2**62:  # keep the mixed-radix key inside int64
                key, uniques = pd.factorize(key)
                span = len(uniques)
            key = key * card + column.maps[level][self.base[:, i]]
            span *= card
        class_id, uniques = pd.factorize(key)
        return class_id, np.bincount(class_id, weights=self.weights).astype(np.int64)

    def evaluate(self, node: Node, target: Target, *, with_loss: bool = True) -> NodeResult:
        class_id, sizes = self.classes_of(node)
        monotone_fail, other_fail = self.failing_classes(class_id, sizes, target)
        budget = int(np.floor(target.max_suppression * self.n + 1e-9))
        fail = monotone_fail | other_fail
        suppressed = int(sizes[fail].sum())
        kept = sizes[~fail]
        result = NodeResult(
            node=node,
            meets=suppressed <= budget and suppressed < self.n,
            monotone_ok=int(sizes[monotone_fail].sum()) <= budget,
            suppressed=suppressed,
            classes=len(kept),
            smallest_class=int(kept.min()) if len(kept) else 0,
        )
        if with_loss:
            result.loss.update(self._loss(node, class_id, sizes, fail))
        return result

    def failing_classes(self, class_id: np.ndarray, sizes: np.ndarray,
                        target: Target) -> tuple[np.ndarray, np.ndarray]:
        """Classes failing k or l (monotone), and classes failing only t (not monotone)."""
        monotone_fail = sizes < target.k
        other_fail = np.zeros(len(sizes), dtype=bool)
        for pairs in self.sensitive_pairs:
            if target.l is None and target.t is None:
                break
            per_class = pairs.at(class_id, sizes)
            if target.l is not None:
                monotone_fail |= diversity.distinct_l(per_class) < target.l
            if target.t is not None:
                emd = (diversity.ordered_emd(per_class) if pairs.ordered
                       else diversity.equal_distance_emd(per_class))
                other_fail |= emd > target.t + 1e-12
        return monotone_fail, other_fail

    def failing_records(self, node: Node, target: Target) -> np.ndarray:
        """Per record of the table: is it in a class that ``node`` suppresses?"""
        class_id, sizes = self.classes_of(node)
        monotone_fail, other_fail = self.failing_classes(class_id, sizes, target)
        return (monotone_fail | other_fail)[class_id][self.record_row]

    def _loss(self, node: Node, class_id: np.ndarray, sizes: np.ndarray,
              fail: np.ndarray) -> dict[str, float]:
        n, q = self.n, len(node)
        suppressed = int(sizes[fail].sum())
        kept_sizes = sizes[~fail].astype(float)
        kept_row = ~fail[class_id]
        entropy = 0.0
        for i, level in enumerate(node):
            column = self.columns[i]
            row_cost = np.where(kept_row, column.costs[level][self.base[:, i]],
                                column.top_cost[self.base[:, i]])
            entropy += float((row_cost * self.weights).sum())
        levels = sum(lv / h if h else 0.0 for lv, h in zip(node, self.heights, strict=True))
        return {
            "precision": ((n - suppressed) * levels + suppressed * q) / (n * q),
            "discernibility": float((kept_sizes**2).sum() + suppressed * n),
            "avg_class_size": n / (len(kept_sizes) + (1 if suppressed else 0)),
            "non_uniform_entropy": entropy,
        }

    def level_names(self, node: Node) -> dict[str, str]:
        return {col: self.columns[i].hierarchy.levels[level]
                for i, (col, level) in enumerate(zip(self.qi, node, strict=True))}


def _build_column(hierarchy: Hierarchy, uniques: pd.Series, counts: np.ndarray,
                  n: int) -> _Column:
    maps, cards, costs = [], [], []
    for level in range(hierarchy.height + 1):
        labels = hierarchy.generalise(uniques, level)
        label_codes, label_uniques = pd.factorize(labels, use_na_sentinel=False)
        maps.append(label_codes.astype(np.int64))
        cards.append(max(len(label_uniques), 1))
        group_total = np.bincount(label_codes, weights=counts)[label_codes]
        costs.append(-np.log2(counts / group_total))
    return _Column(hierarchy, maps, cards, costs, top_cost=-np.log2(counts / n))


@dataclass
class _SensitivePairs:
    """One sensitive attribute's counts per (base combination, value)."""

    row: np.ndarray
    code: np.ndarray
    weight: np.ndarray
    m: int
    p: np.ndarray  # the whole table's distribution, fixed under suppression (as ARX)
    ordered: bool

    def at(self, class_id: np.ndarray, sizes: np.ndarray) -> diversity.ClassPairs:
        key = class_id[self.row].astype(np.int64) * self.m + self.code
        pair_keys, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse, weights=self.weight)
        cls = pair_keys // self.m
        return diversity.ClassPairs(cls=cls, code=pair_keys % self.m, share=counts / sizes[cls],
                                    classes=len(sizes), m=self.m, p=self.p)


def _sensitive_pairs(values: pd.Series, record_row: np.ndarray) -> _SensitivePairs:
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=False)
    m = max(len(uniques), 1)
    pair = pd.DataFrame({"row": record_row, "code": codes}).groupby(
        ["row", "code"], sort=False).size()
    rows = pair.index.get_level_values(0).to_numpy()
    pair_codes = pair.index.get_level_values(1).to_numpy().astype(np.int64)
    return _SensitivePairs(row=rows, code=pair_codes, weight=pair.to_numpy().astype(float), m=m,
                           p=np.bincount(codes, minlength=m) / len(codes),
                           ordered=_is_ordered(values))
