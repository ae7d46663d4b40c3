"""From a table and a target to a safer table and the report a privacy officer reviews.

``anonymise`` measures the risk, searches the lattice (``search.py``), applies the chosen
generalisation and the suppression it needs through ``Processing`` (so every change is a
recorded step), and measures the risk again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.hierarchies.base import Hierarchy
from anonymize.hierarchies.kinds import hierarchy_from_spec, infer_kind
from anonymize.sdc.lattice import LOSSES, Lattice, Progress, Target
from anonymize.sdc.risk import risk_report
from anonymize.sdc.search import search
from anonymize.sdc.transform import Processing


@dataclass
class AnonymisationReport:
    """One JSON-ready record of an anonymisation: what was asked, chosen, done and measured."""

    qi: list[str]
    sensitive: list[str]
    target: dict
    objective: str
    hierarchies: dict[str, dict]
    node: dict[str, str]  # QI -> chosen level name
    loss: dict[str, float]
    records_in: int
    records_out: int
    suppressed: int
    risk_before: dict
    risk_after: dict
    steps: list[dict] = field(default_factory=list)
    search: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Anonymisation:
    data: pd.DataFrame
    report: AnonymisationReport


def resolve_hierarchies(frame: pd.DataFrame, qi: list[str],
                        hierarchies: dict[str, Hierarchy | str] | None) -> dict[str, Hierarchy]:
    """Given hierarchies (objects or ``kind[:arg]`` specs), the rest inferred from names."""
    given = dict(hierarchies or {})
    stray = sorted(set(given) - set(qi))
    if stray:
        raise AnonymizeError(f"hierarchy given for {stray[0]!r}, which is not a "
                             f"quasi-identifier")
    out = {}
    for col in qi:
        spec = given.get(col)
        if isinstance(spec, Hierarchy):
            out[col] = spec
        else:
            out[col] = hierarchy_from_spec(frame, col, spec or infer_kind(frame, col))
    return out


def anonymise(frame: pd.DataFrame, qi: list[str], *, k: int,
              sensitive: list[str] | str | None = None, l: int | None = None,  # noqa: E741
              t: float | None = None, max_suppression: float = 0.0,
              hierarchies: dict[str, Hierarchy | str] | None = None,
              objective: str = "precision", threshold: float | None = None,
              progress: Progress | None = None) -> Anonymisation:
    """The least-loss generalisation of ``frame`` meeting k (and l, t) with at most
    ``max_suppression`` of the records removed.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [31, 33, 36, 38, 52, 55, 57, 59],
    ...                    "sex": ["F", "M"] * 4, "dx": list("abab" * 2)})
    >>> out = anonymise(df, ["age", "sex"], k=2, hierarchies={"age": "age", "sex": "category"})
    >>> out.report.node, sorted(out.data["age"].unique()), out.report.risk_after["k"]
    ({'age': '10-year', 'sex': 'value'}, ['30-39', '50-59'], 2)
    """
    qi = list(qi)
    sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
    target = Target(k=k, l=l, t=t, max_suppression=max_suppression)
    threshold = threshold if threshold is not None else 1.0 / k
    before = risk_report(frame, qi, sensitive or None, threshold=threshold)
    chosen = resolve_hierarchies(frame, qi, hierarchies)
    lattice = Lattice(frame, qi, chosen, sensitive, progress)
    result = search(frame, qi, chosen, target, sensitive=sensitive, objective=objective,
                    progress=progress, lattice=lattice)
    if result.best is None:
        raise AnonymizeError(
            f"no generalisation of {', '.join(qi)} meets k={k}"
            + (f", l={l}" if l else "") + (f", t={t}" if t is not None else "")
            + f" with at most {max_suppression:.1%} of records suppressed; allow more "
            "suppression, coarser hierarchies, or fewer quasi-identifiers")
    best = result.best

    processing = Processing(frame)
    for col, level in zip(qi, best.node, strict=True):
        processing.generalise(col, chosen[col], level)
    failing = lattice.failing_records(best.node, target)
    if failing.any():
        processing.suppress_records(failing, reason=_reason(target))
    after = risk_report(processing.frame, qi, sensitive or None, threshold=threshold)
    report = AnonymisationReport(
        qi=qi, sensitive=sensitive,
        target={"k": k, "l": l, "t": t, "max_suppression": max_suppression},
        objective=objective,
        hierarchies={col: h.describe() for col, h in chosen.items()},
        node=lattice.level_names(best.node),
        loss={name: best.loss[name] for name in LOSSES},
        records_in=len(frame), records_out=len(processing.frame),
        suppressed=best.suppressed,
        risk_before=before.to_dict(), risk_after=after.to_dict(),
        steps=[s.to_dict() for s in processing.steps],
        search=result.stats(),
    )
    return Anonymisation(processing.frame, report)


def _reason(target: Target) -> str:
    parts = [f"class smaller than k={target.k}"]
    if target.l is not None:
        parts.append(f"fewer than l={target.l} sensitive values")
    if target.t is not None:
        parts.append(f"farther than t={target.t} from the table")
    return " or ".join(parts)


def anonymisation_summary(report: AnonymisationReport) -> str:
    """A few lines for the officer: target, chosen levels, loss, suppression, risk."""
    b, a = report.risk_before, report.risk_after
    target = f"k = {report.target['k']}"
    if report.target["l"]:
        target += f", l = {report.target['l']}"
    if report.target["t"] is not None:
        target += f", t = {report.target['t']}"
    levels = ", ".join(f"{col} → {level}" for col, level in report.node.items())
    loss = ", ".join(f"{name} {value:,.4g}" for name, value in report.loss.items())
    lines = [
        f"Target {target}, at most {report.target['max_suppression']:.1%} suppressed; "
        f"least {report.objective} loss.",
        f"Chosen generalisation: {levels}.",
        f"Suppressed {report.suppressed:,} of {report.records_in:,} records "
        f"({report.suppressed / report.records_in:.2%}); {report.records_out:,} released.",
        f"Loss: {loss}.",
        f"Risk before: k = {b['k']}, {b['sample_uniques']:,} sample uniques, max prosecutor "
        f"risk {b['prosecutor_risk_max']:.3f}, marketer {b['marketer_risk']:.3f}.",
        f"Risk after:  k = {a['k']}, {a['sample_uniques']:,} sample uniques, max prosecutor "
        f"risk {a['prosecutor_risk_max']:.3f}, marketer {a['marketer_risk']:.3f}"
        + (f", l = {a['l_distinct']}, t = {a['t_closeness']:.3f}"
           if a.get("l_distinct") is not None else "") + ".",
        f"Search: {report.search['evaluated']} of {report.search['nodes']} lattice nodes "
        f"evaluated in {report.search['seconds']:.2f} s.",
    ]
    return "\n".join(lines)
