"""The least-loss generalisation that meets a target: a lattice search in the spirit of ARX's
Flash (Kohlmayer et al. 2012), with two prunings that are exact, not heuristic.

1. **Failures prune down.** "k and distinct l hold after suppressing at most the allowed
   share" is monotone under generalisation: merging classes never makes a class smaller nor
   removes a sensitive value from it, so a class that passed still passes and the suppressed
   records can only become fewer. A node failing it fails at every specialisation (every node
   below it), which is never evaluated. Like Flash, the search walks a path upwards from each
   unresolved node and binary-searches it for the lowest node that passes, so that one failure
   high on the path resolves a large part of the lattice at once.
2. **Suppression-free solutions prune up.** When a node meets the whole target without
   suppressing anything, every loss measure of ``lattice.py`` at any generalisation of it is at
   least as large: each cell moves to a level at least as high or is suppressed (the highest
   cost), and classes only merge. Those nodes cannot be better and are not evaluated.

t-closeness and entropy l-diversity are **not** monotone with suppression (merging a class
that fails t with one that passes can yield a class that fails, suppressing more records), so
they are checked at every evaluated node but never used to prune; this keeps the result exact.
Every remaining node is evaluated, so the node returned has the least objective loss among all
nodes that meet the target (ties: the lower node, then the lexicographically smaller).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import Hierarchy
from anonymize.sdc.lattice import LOSSES, Lattice, Node, NodeResult, Progress, Target


@dataclass
class SearchResult:
    best: NodeResult | None
    objective: str
    lattice: Lattice
    nodes: int
    evaluated: int
    pruned_failing: int
    pruned_dominated: int
    seconds: float
    results: dict[Node, NodeResult] = field(default_factory=dict)

    def stats(self) -> dict:
        return {"nodes": self.nodes, "evaluated": self.evaluated,
                "pruned_failing": self.pruned_failing,
                "pruned_dominated": self.pruned_dominated, "seconds": round(self.seconds, 3)}


def _below(a: Node, b: Node) -> bool:
    """``a`` is a specialisation of (or equal to) ``b``."""
    return all(x <= y for x, y in zip(a, b, strict=True))


def _path_up(node: Node, heights: tuple[int, ...]) -> list[Node]:
    """A chain from ``node`` to the top, raising the least-generalised QI (relative to its
    height) first, as Flash's heuristic does."""
    path, current = [node], list(node)
    while any(c < h for c, h in zip(current, heights, strict=True)):
        candidates = [i for i, (c, h) in enumerate(zip(current, heights, strict=True)) if c < h]
        i = min(candidates, key=lambda j: (current[j] / heights[j], j))
        current[i] += 1
        path.append(tuple(current))
    return path


def search(frame: pd.DataFrame, qi: list[str], hierarchies: dict[str, Hierarchy],
           target: Target, *, sensitive: list[str] | None = None,
           objective: str = "precision", progress: Progress | None = None,
           lattice: Lattice | None = None) -> SearchResult:
    """Find the node with the least ``objective`` loss that meets ``target``."""
    if objective not in LOSSES:
        raise AnonymizeError(f"unknown loss {objective!r} (losses: {', '.join(LOSSES)})")
    missing = [c for c in qi if c not in hierarchies]
    if missing:
        raise AnonymizeError(f"no hierarchy for quasi-identifier {missing[0]!r}")
    if (target.l is not None or target.t is not None) and not sensitive:
        raise AnonymizeError("l-diversity and t-closeness need a sensitive column")
    start = time.perf_counter()
    lattice = lattice or Lattice(frame, qi, hierarchies, sensitive, progress)
    heights = lattice.heights
    order = sorted(itertools.product(*(range(h + 1) for h in heights)),
                   key=lambda node: (sum(node), node))
    results: dict[Node, NodeResult] = {}
    failing: list[Node] = []  # maximal known failures: everything below them fails
    clean: list[Node] = []  # suppression-free solutions: nothing above them is better
    pruned_failing = pruned_dominated = 0

    def evaluate(node: Node) -> NodeResult:
        result = lattice.evaluate(node, target)
        results[node] = result
        if not result.monotone_ok:
            failing.append(node)
        elif result.meets and result.suppressed == 0:
            clean.append(node)
        if progress:
            progress("search", len(results), len(order))
        return result

    for node in order:
        if node in results:
            continue
        if any(_below(node, f) for f in failing):
            pruned_failing += 1
            continue
        if any(_below(c, node) for c in clean):
            pruned_dominated += 1
            continue
        path = [p for p in _path_up(node, heights)]
        lo, hi = 0, len(path)  # first passing index lies in [lo, hi]; hi = none passes
        while lo < hi:
            mid = (lo + hi) // 2
            probe = path[mid]
            known = results.get(probe)
            passed = (known.monotone_ok if known is not None
                      else not any(_below(probe, f) for f in failing)
                      and evaluate(probe).monotone_ok)
            if passed:
                hi = mid
            else:
                lo = mid + 1
        if node not in results and not any(_below(node, f) for f in failing):
            evaluate(node)
        elif node not in results:
            pruned_failing += 1

    meeting = [r for r in results.values() if r.meets]
    best = min(meeting, key=lambda r: (r.loss[objective], sum(r.node), r.node), default=None)
    return SearchResult(best=best, objective=objective, lattice=lattice, nodes=len(order),
                        evaluated=len(results), pruned_failing=pruned_failing,
                        pruned_dominated=pruned_dominated,
                        seconds=time.perf_counter() - start, results=results)


def brute_force(lattice: Lattice, target: Target) -> dict[Node, NodeResult]:
    """Every node evaluated: the reference the search is tested against."""
    nodes = itertools.product(*(range(h + 1) for h in lattice.heights))
    return {node: lattice.evaluate(node, target) for node in nodes}
