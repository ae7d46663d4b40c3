"""Journalist and marketer risk: re-identification against a population, not only the sample.

Definitions (El Emam and Dankar 2008, "Protecting privacy using k-anonymity", JAMIA 15(5);
Dankar and El Emam 2010 for the marketer; the same as ARX's risk analysis and sdcMicro's
population frequencies ``F_k``). The sample has classes j of size ``f_j``; the population the
attacker's identified register covers has ``F_j >= f_j`` people with the same QI values.

* prosecutor (the attacker knows the target is in the sample): record risk ``1 / f_j``;
* journalist (the target is someone in the population; the attacker does not know whether
  they are in the sample): record risk ``1 / F_j``; maximum ``1 / min_j F_j`` over the
  classes present in the sample, average ``(1/n) Σ_j f_j / F_j``;
* marketer (the attacker matches every sample record against the register and counts the
  correct matches): expected share re-identified ``(1/n) Σ_j f_j / F_j``. It is the same
  number as the journalist average; the marketer has no maximum, as it is about the whole
  file. When the sample is the population (``F_j = f_j``, the default here, as for a
  combined extract of whole registers) it is ``classes / records``.

Without a population every journalist figure equals its prosecutor figure, which can only
overstate the risk, since ``F_j >= f_j``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError


@dataclass(frozen=True)
class PopulationRisk:
    journalist_max: float
    journalist_avg: float
    marketer: float
    population_given: bool


def population_risk(sample: pd.DataFrame, qi: list[str], class_ids: np.ndarray,
                    sizes: np.ndarray, population: pd.DataFrame | None = None,
                    population_count: str | None = None) -> PopulationRisk:
    """Journalist and marketer risk of the sample's classes.

    ``population`` is either a frame of the population's records (one row a person, with
    the ``qi`` columns) or, with ``population_count``, a frame of population class sizes (the
    ``qi`` columns plus that count column). ``class_ids`` and ``sizes`` are the sample's.
    """
    if population is None:
        big_f = sizes.astype(float)
    else:
        big_f = _population_sizes(sample, qi, class_ids, len(sizes), population,
                                  population_count)
    f = sizes.astype(float)
    expected = float((f / big_f).sum() / f.sum())
    return PopulationRisk(journalist_max=float(1.0 / big_f.min()), journalist_avg=expected,
                          marketer=expected, population_given=population is not None)


def _population_sizes(sample: pd.DataFrame, qi: list[str], class_ids: np.ndarray,
                      classes: int, population: pd.DataFrame,
                      population_count: str | None) -> np.ndarray:
    missing = [c for c in [*qi, *([population_count] if population_count else [])]
               if c not in population.columns]
    if missing:
        raise AnonymizeError(f"population has no column {missing[0]!r}")
    if population_count:
        counts = population.groupby(qi, dropna=False, observed=True)[population_count].sum()
    else:
        counts = population.groupby(qi, dropna=False, observed=True).size()
    # One representative sample row per class carries the class's QI values.
    first_rows = pd.Series(np.arange(len(class_ids))).groupby(class_ids).first().to_numpy()
    keys = pd.MultiIndex.from_frame(sample[qi].iloc[first_rows].reset_index(drop=True))
    counts.index = pd.MultiIndex.from_frame(counts.index.to_frame()) if len(qi) > 1 else \
        pd.MultiIndex.from_arrays([counts.index])
    big_f = counts.reindex(keys).to_numpy(dtype=float)
    sample_sizes = np.bincount(class_ids, minlength=classes)
    short = np.isnan(big_f) | (big_f < sample_sizes)
    if short.any():
        j = int(np.flatnonzero(short)[0])
        values = dict(zip(qi, keys[j], strict=True))
        raise AnonymizeError(f"population has fewer people than the sample in the class "
                             f"{values} ({0 if np.isnan(big_f[j]) else int(big_f[j])} < "
                             f"{sample_sizes[j]}): the population must contain the sample")
    return big_f
