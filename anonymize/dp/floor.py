"""The smallest epsilon a statistic can be calibrated at, for a clear refusal below it.

At a tiny epsilon the noise scale a mechanism needs overflows (``sensitivity / 1e-300``) or
leaves the range OpenDP accepts, and OpenDP refuses to build the measurement. That is the
consumer's input, not a fault of the server: it is refused as a bad parameter naming the
smallest epsilon that does work for this statistic on this data, found by bisection on the
same planning function (so composed statistics, which split epsilon, are covered too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import opendp.mod

from anonymize.dp.schema import DPQuery
from anonymize.errors import AnonymizeError

T = TypeVar("T")

#: The largest epsilon the search tries: beyond it a query is refused for other reasons.
CEILING = 10.0


class Uncalibrated(AnonymizeError):
    """OpenDP's map stayed above epsilon after its own search (reachable at extreme scales)."""


#: What planning raises when a scale cannot be built for the epsilon asked.
UNCALIBRATABLE = (opendp.mod.OpenDPException, Uncalibrated, OverflowError, ZeroDivisionError,
                  ValueError)


def planned_or_refused(plan: Callable[[DPQuery], T], query: DPQuery) -> T:
    """``plan(query)``, or an :class:`AnonymizeError` naming the smallest epsilon allowed when
    the epsilon asked is too small to calibrate (any other failure is raised as it was)."""
    try:
        return plan(query)
    except UNCALIBRATABLE as exc:
        smallest = smallest_epsilon(plan, query)
        if smallest is None:
            raise exc from None
        raise AnonymizeError(
            f"epsilon {query.epsilon:g} is too small for a {query.statistic} on this data "
            f"(OpenDP cannot calibrate its noise); the smallest allowed is {smallest:.2g}"
        ) from None


def smallest_epsilon(plan: Callable[[DPQuery], object], query: DPQuery) -> float | None:
    """The smallest epsilon (2 significant digits, rounded up) at which ``plan`` succeeds;
    None when it fails even at :data:`CEILING` (then epsilon is not the problem)."""

    def works(epsilon: float) -> bool:
        try:
            plan(replace(query, epsilon=epsilon))
        except UNCALIBRATABLE:
            return False
        return True

    if not works(CEILING):
        return None
    low, high = math.log10(max(float(query.epsilon), 5e-324)), math.log10(CEILING)
    while high - low > 0.004:  # within 1%
        middle = (low + high) / 2
        if works(10 ** middle):
            high = middle
        else:
            low = middle
    found = 10 ** high
    step = 10 ** (math.floor(math.log10(found)) - 1)
    rounded = math.ceil(found / step) * step
    return rounded if works(rounded) else found
