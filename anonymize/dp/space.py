"""The OpenDP wiring shared by every statistic: the input space and delegated transformations.

Passing a million-row column to OpenDP as a Python list costs seconds of conversion. Instead,
each statistic's aggregate (a count, a clamped sum, quantile scores) is computed with NumPy
inside an OpenDP user transformation whose *stability map is OpenDP's own transformation's
map* (``make_count``, ``make_sum`` on the clamped domain, ``make_quantile_score_candidates``...).
So the sensitivity always comes from OpenDP, the noise from OpenDP's measurements, and the
privacy loss from OpenDP's map of the whole chain; the tests check that the NumPy aggregate
equals the OpenDP transformation's output on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import opendp.combinators
import opendp.domains
import opendp.metrics
import opendp.mod
import opendp.transformations
import pandas as pd

# "contrib": OpenDP constructors not yet vetted by its committee; "honest-but-curious": user
# transformations, whose promise (the function matches the stability map) our tests check.
opendp.mod.enable_features("contrib", "honest-but-curious")

#: Bounded microdata (a pandas DataFrame) under the symmetric distance between datasets.
FRAME_DOMAIN = opendp.domains.user_domain(
    "pseudolink.BoundedFrame", member=lambda x: isinstance(x, pd.DataFrame))
FRAME_METRIC = opendp.metrics.symmetric_distance()


def delegated(reference: opendp.mod.Transformation, function: Callable[[pd.DataFrame], Any],
              *, output_domain: opendp.mod.Domain | None = None,
              output_metric: opendp.mod.Metric | None = None) -> opendp.mod.Transformation:
    """A transformation from the frame that computes ``function`` and is exactly as stable as
    OpenDP's ``reference`` transformation (which it must compute the same thing as)."""
    return opendp.transformations.make_user_transformation(
        FRAME_DOMAIN, FRAME_METRIC,
        output_domain or reference.output_domain,
        output_metric or reference.output_metric,
        function=function,
        stability_map=reference.map,
    )


def calibrated(transformation: opendp.mod.Transformation,
               noise: Callable[[float], opendp.mod.Measurement], d_in: int,
               epsilon: float, *, factor: float = 1.0) -> tuple[opendp.mod.Measurement, float]:
    """``transformation >> noise(scale)`` at the smallest scale OpenDP accepts for ``epsilon``.

    The first guess (``factor`` x sensitivity / epsilon: 1 for Laplace, 2 for report-noisy-max)
    is what the mechanism's textbook analysis needs; OpenDP's binary search corrects it when
    rounding puts the map above epsilon.
    """
    def chain(scale: float) -> opendp.mod.Measurement:
        return transformation >> noise(scale)

    from anonymize.dp.floor import Uncalibrated

    sensitivity = transformation.map(d_in)
    scale = factor * float(sensitivity) / epsilon
    if not math.isfinite(scale):
        raise Uncalibrated(f"the noise scale for epsilon {epsilon:g} is not a finite number")
    if chain(scale).map(d_in) > epsilon:
        # Searched between the guess and a scale known to be enough: left to find its own
        # bounds, OpenDP's search tried negative scales, which its constructors refuse,
        # and a variance at epsilon 0.5 failed with an internal error.
        high = scale * 2
        while chain(high).map(d_in) > epsilon:
            high *= 2
            if not math.isfinite(high):
                raise Uncalibrated(f"no finite noise scale reaches epsilon {epsilon:g}")
        scale = float(opendp.mod.binary_search_param(chain, d_in=d_in, d_out=epsilon,
                                                     bounds=(scale, high)))
    measurement = chain(scale)
    if not measurement.map(d_in) <= epsilon:  # at extreme scales float rounding wins
        raise Uncalibrated(f"OpenDP's privacy map stays above epsilon {epsilon:g}")
    return measurement, scale


def composed(measurements: list[opendp.mod.Measurement]) -> opendp.mod.Measurement:
    """Basic sequential composition, with OpenDP's map (the sum of the parts' epsilons)."""
    return opendp.combinators.make_composition(measurements)
