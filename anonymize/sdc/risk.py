"""Re-identification risk of a table: k-anonymity, l-diversity, t-closeness, prosecutor,
journalist and marketer risk (the last two in ``population.py``).

An equivalence class is a set of records that agree on every quasi-identifier (QI). A missing
QI value (NaN/None) is treated as a value of its own: records missing the same QIs fall in one
class, as an attacker who knows a value is missing would see them. (pyCANON, via pandas'
default ``groupby``, silently drops such records; that is the one place our numbers differ.)
A missing sensitive value is likewise one more sensitive value.

Sensitive attributes with a numeric, boolean, datetime or ordered categorical dtype are
ordered (t-closeness by ordered EMD); others are categorical (equal-distance EMD).
With several sensitive attributes, l is the minimum and t the maximum over them, as in pyCANON.

>>> import pandas as pd
>>> df = pd.DataFrame({"age": ["30s", "30s", "40s", "40s", "40s"],
...                    "disease": ["flu", "cold", "flu", "flu", "cold"]})
>>> r = risk_report(df, ["age"], "disease")
>>> r.k, r.l_distinct, r.sample_uniques, r.prosecutor_risk_max
(2, 2, 0, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.sdc import diversity
from anonymize.sdc.population import population_risk


@dataclass(frozen=True)
class SensitiveRisk:
    """Attribute-disclosure measures for one sensitive column."""

    column: str
    ordered: bool  # t-closeness by ordered EMD (True) or equal distance (False)
    distinct_values: int
    l_distinct: int
    l_entropy: float
    t_closeness: float


@dataclass(frozen=True)
class RiskReport:
    """Risk measures of one table under one choice of quasi-identifiers."""

    qi: list[str]
    sensitive: list[str]
    records: int
    classes: int
    k: int
    sample_uniques: int  # classes of size 1, hence also records in them
    prosecutor_risk_max: float  # 1 / smallest class
    prosecutor_risk_avg: float  # mean over records of 1 / class size = classes / records
    threshold: float
    records_at_risk: int  # records whose 1 / class size exceeds the threshold
    l_distinct: int | None
    l_entropy: float | None
    t_closeness: float | None
    class_sizes: dict[int, int] = field(default_factory=dict)  # size -> number of classes
    by_sensitive: dict[str, SensitiveRisk] = field(default_factory=dict)
    # Against a population (population.py); without one, the sample is the population.
    journalist_risk_max: float | None = None  # 1 / smallest population class
    journalist_risk_avg: float | None = None  # (1/n) Σ f_j / F_j
    marketer_risk: float | None = None  # expected share of records re-identified
    population_given: bool = False

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``class_sizes`` keys become strings in JSON."""
        return asdict(self)


def risk_report(df: pd.DataFrame, qi: list[str], sensitive: list[str] | str | None = None, *,
                threshold: float = 0.2, population: pd.DataFrame | None = None,
                population_count: str | None = None) -> RiskReport:
    """Measure the re-identification risk of ``df`` under quasi-identifiers ``qi``.

    ``threshold`` is the highest acceptable prosecutor risk per record (0.2 means classes of at
    least 5); records above it are counted in ``records_at_risk``. ``population`` (records, or
    class sizes in column ``population_count``) gives journalist and marketer risk against it;
    without it the sample is taken as the population.
    """
    qi = list(qi)
    sensitive_cols = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    _check_columns(df, qi, sensitive_cols, threshold)

    class_ids = df.groupby(qi, dropna=False, sort=False, observed=True).ngroup().to_numpy()
    sizes = np.bincount(class_ids)
    records, classes = len(df), len(sizes)
    size_values, size_counts = np.unique(sizes, return_counts=True)
    per_record_risk = 1.0 / sizes[class_ids]

    by_sensitive = {col: _sensitive_risk(df[col], class_ids, sizes) for col in sensitive_cols}
    risks = list(by_sensitive.values())
    pop = population_risk(df, qi, class_ids, sizes, population, population_count)
    return RiskReport(
        qi=qi,
        sensitive=sensitive_cols,
        records=records,
        classes=classes,
        k=int(sizes.min()),
        sample_uniques=int((sizes == 1).sum()),
        prosecutor_risk_max=1.0 / int(sizes.min()),
        prosecutor_risk_avg=classes / records,
        threshold=threshold,
        records_at_risk=int((per_record_risk > threshold).sum()),
        l_distinct=min(r.l_distinct for r in risks) if risks else None,
        l_entropy=min(r.l_entropy for r in risks) if risks else None,
        t_closeness=max(r.t_closeness for r in risks) if risks else None,
        class_sizes={int(s): int(c) for s, c in zip(size_values, size_counts, strict=True)},
        by_sensitive=by_sensitive,
        journalist_risk_max=pop.journalist_max,
        journalist_risk_avg=pop.journalist_avg,
        marketer_risk=pop.marketer,
        population_given=pop.population_given,
    )


def _check_columns(df: pd.DataFrame, qi: list[str], sensitive: list[str],
                   threshold: float) -> None:
    if not qi:
        raise AnonymizeError("no quasi-identifier columns given")
    for role, cols in (("quasi-identifier", qi), ("sensitive", sensitive)):
        for col in cols:
            if col not in df.columns:
                known = ", ".join(map(str, df.columns))
                raise AnonymizeError(f"{role} column {col!r} is not in the data "
                                     f"(columns: {known})")
    overlap = sorted(set(qi) & set(sensitive))
    if overlap:
        raise AnonymizeError(f"column {overlap[0]!r} is both a quasi-identifier and sensitive")
    if df.empty:
        raise AnonymizeError("the data has no records: risk is undefined")
    if not 0 < threshold <= 1:
        raise AnonymizeError(f"risk threshold must be in (0, 1], got {threshold}")


def _is_ordered(values: pd.Series) -> bool:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return bool(dtype.ordered)
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)


def _sensitive_risk(values: pd.Series, class_ids: np.ndarray,
                    sizes: np.ndarray) -> SensitiveRisk:
    ordered = _is_ordered(values)
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:
        # Mixed types that cannot be sorted: only possible for a categorical attribute,
        # whose distance does not depend on the order.
        codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=False)
    pairs = diversity.class_pairs(class_ids, sizes, codes, len(uniques))
    emd = diversity.ordered_emd(pairs) if ordered else diversity.equal_distance_emd(pairs)
    return SensitiveRisk(
        column=str(values.name),
        ordered=ordered,
        distinct_values=len(uniques),
        l_distinct=int(diversity.distinct_l(pairs).min()),
        l_entropy=float(diversity.entropy_l(pairs).min()),
        t_closeness=float(emd.max()),
    )


def summary(report: RiskReport) -> str:
    """A few lines a privacy officer can read.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": ["F", "F", "M"], "dx": ["a", "b", "a"]})
    >>> print(summary(risk_report(df, ["sex"], "dx")).splitlines()[0])
    3 records in 2 equivalence classes over sex: k = 1 (1 sample unique).
    """
    lines = [
        f"{report.records:,} records in {report.classes:,} equivalence classes over "
        f"{', '.join(report.qi)}: k = {report.k} ({report.sample_uniques:,} sample unique"
        f"{'' if report.sample_uniques == 1 else 's'}).",
        f"Prosecutor risk: max {report.prosecutor_risk_max:.3f}, "
        f"average {report.prosecutor_risk_avg:.3f}; {report.records_at_risk:,} records "
        f"({report.records_at_risk / report.records:.1%}) above the threshold "
        f"{report.threshold:g} (classes smaller than {_min_safe_size(report.threshold)}).",
    ]
    if report.marketer_risk is not None:
        against = "the given population" if report.population_given else "the sample as population"
        lines.append(f"Journalist risk (against {against}): max "
                     f"{report.journalist_risk_max:.3f}, average {report.journalist_risk_avg:.3f}; "
                     f"marketer risk {report.marketer_risk:.3f}.")
    for risk in report.by_sensitive.values():
        kind = "ordered" if risk.ordered else "categorical"
        lines.append(
            f"Sensitive {risk.column} ({kind}, {risk.distinct_values} values): "
            f"distinct l = {risk.l_distinct}, entropy l = {risk.l_entropy:.2f}, "
            f"t = {risk.t_closeness:.3f}.")
    return "\n".join(lines)


def _min_safe_size(threshold: float) -> int:
    """Smallest class size whose risk 1/size is within the threshold."""
    return math.ceil(1 / threshold - 1e-9)
