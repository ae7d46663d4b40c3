"""A synthetic release end to end: choose columns, hold out, fit, sample, check, report.

The order matters: the holdout is split off before any fitting, so that the privacy gate can
compare what the synthesizer saw with what it did not; the quality report compares synthetic
rows with the training rows the synthesizer learned from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.synth.cart import SequentialTreeSynthesizer
from anonymize.synth.constraints import AREA, Constraints
from anonymize.synth.dp_mst import dp_mst
from anonymize.synth.gate import GateResult, GateThresholds, privacy_gate
from anonymize.synth.privacy import exact_copies
from anonymize.synth.report import researcher_utility, sdmetrics_reports

Progress = Callable[[str, int, int | None], None]
#: A stand-in synthesizer for tests and extensions: (train, rows, seed) -> synthetic rows.
Fitter = Callable[[pd.DataFrame, int, int], pd.DataFrame]

RELEASE_SYNTHESIZERS = ("default", "gaussian_copula", "ctgan", "tvae", "dp-mst")
NEVER_MODELLED = ("direct_identifier",)
MAX_REDRAWS = 10
#: The person key a DP release bounds rows by when the caller names none.
PERSON_KEY = "link_id"
#: What a dp-mst release says of the gate: a check that looks at the real data and decides
#: whether to publish would condition the output on the data beyond epsilon.
DP_NOT_GATED = {
    "applied": False, "passed": None,
    "reason": "differentially private output is published as drawn: a non-DP look at the "
              "real data (copies, distances, membership) would condition the release beyond "
              "its epsilon; the guarantee is the per-person epsilon itself",
}


@dataclass
class SyntheticRelease:
    """Synthetic rows plus everything the catalog stores with them."""

    data: pd.DataFrame
    synthesizer: str
    quality: dict[str, Any]
    utility: dict[str, Any]
    gate: GateResult
    fit_seconds: float
    sample_seconds: float
    dropped: list[str]
    constraints: list[str]
    epsilon: float | None = None
    dp: dict[str, Any] = field(default_factory=dict)
    redrawn_copies: int = 0

    @property
    def gate_applied(self) -> bool:
        """False for a DP synthesizer: its output is published as drawn (see below)."""
        return self.epsilon is None

    def report(self) -> dict[str, Any]:
        """JSON-ready parameters for ``catalog.record_release``.

        For dp-mst the gate's numbers are left out: they are exact functions of the real
        rows, and the release did not depend on them.
        """
        doc = {
            "synthesizer": self.synthesizer, "rows": len(self.data),
            "quality_score": round(self.quality["quality_score"], 4),
            "quality": self.quality, "utility": self.utility,
            "privacy_gate": self.gate.to_dict() if self.gate_applied else DP_NOT_GATED,
            "fit_seconds": round(self.fit_seconds, 3),
            "sample_seconds": round(self.sample_seconds, 3),
            "dropped_columns": self.dropped, "constraints": self.constraints,
            "epsilon": self.epsilon, "dp": self.dp,
        }
        if self.gate_applied:
            # Counted from the real data: for the officer's record only, never served.
            doc["exact_copies_redrawn"] = self.redrawn_copies
        return doc


def modelled_columns(df: pd.DataFrame, columns: Mapping[str, str] | None,
                     person_key: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Drop ``link_id``, the person key and every column classified a direct identifier.

    >>> df = pd.DataFrame({"link_id": [1], "rrn": ["x"], "sex": ["F"]})
    >>> modelled_columns(df, {"rrn": "direct_identifier", "sex": "quasi_identifier"})[1]
    ['link_id', 'rrn']
    """
    dropped = [col for col in df.columns if col in (PERSON_KEY, person_key)
               or (columns or {}).get(col) in NEVER_MODELLED]
    return df.drop(columns=dropped), dropped


def synthetic_release(df: pd.DataFrame, rows: int, *, synthesizer: str | Fitter = "default",
                      columns: Mapping[str, str] | None = None, epsilon: float | None = None,
                      epochs: int = 300, seed: int = 0, holdout: float = 0.1,
                      thresholds: GateThresholds | None = None, enforce: bool = True,
                      progress: Progress | None = None,
                      domains: Mapping[str, Any] | None = None,
                      person_key: str | None = None,
                      rows_per_person: int = 1) -> SyntheticRelease:
    """Synthesise ``rows`` rows from ``df``; refuse (AnonymizeError) if the gate fails.

    ``columns`` is the catalog's classification; ``epsilon`` is required for ``dp-mst`` and
    ignored otherwise; ``domains`` declares dp-mst's categories and ranges (see
    ``anonymize.synth.domains``; area columns take the public administrative hierarchy).
    dp-mst keeps at most ``rows_per_person`` rows of each person (``person_key``, by
    default ``link_id``) and refuses data without one; its output is not gated (see
    ``DP_NOT_GATED``). For the built-in non-DP synthesizers, exact copies of real rows are
    redrawn: the row is sampled afresh, up to 10 rounds, and a copy is never kept.
    """
    report = progress or (lambda stage, done, total: None)
    name = synthesizer if isinstance(synthesizer, str) else getattr(synthesizer, "__name__",
                                                                    "custom")
    check_release_inputs(df, rows, synthesizer=synthesizer, columns=columns,
                         epsilon=epsilon, person_key=person_key)
    key = person_key or PERSON_KEY
    persons = df[key] if key in df.columns else None
    real, dropped = modelled_columns(df, columns, person_key)
    # The rows, not the order they came in, decide the release: a combined table is ordered
    # by random link ids, and the same data and seed must give the same split, draw and
    # verdict on every run. Rows are put in the order of their content's hash.
    canonical = np.argsort(pd.util.hash_pandas_object(real, index=False).to_numpy(),
                           kind="stable")
    real = real.iloc[canonical].reset_index(drop=True)
    if persons is not None:
        persons = persons.iloc[canonical].reset_index(drop=True)
    limits = thresholds or GateThresholds()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    # At least the gate's minimum when the data allows it (never more than half the rows):
    # a smaller holdout makes the gate refuse to judge rather than decide by chance.
    n_holdout = min(max(round(len(real) * holdout), limits.min_holdout, 10), len(real) // 2)
    hold_at, train_at = np.sort(order[:n_holdout]), np.sort(order[n_holdout:])
    if persons is not None and not persons.is_unique:
        # A person's rows stay on one side: split across, they would pass for a holdout
        # row that the synthesizer "never saw" and hide memorisation from the gate.
        people = pd.unique(persons.to_numpy())
        held = rng.permutation(people)[:max(round(len(people) * n_holdout / len(real)), 1)]
        in_hold = persons.isin(held).to_numpy()
        hold_at, train_at = np.flatnonzero(in_hold), np.flatnonzero(~in_hold)
    hold = real.iloc[hold_at].reset_index(drop=True)
    train = real.iloc[train_at].reset_index(drop=True)
    rules = Constraints.detect(train)

    started = time.perf_counter()
    draw, dp_facts = _fitted(synthesizer, train, rules, epsilon=epsilon, epochs=epochs,
                             seed=seed, progress=report, domains=domains,
                             persons=None if persons is None
                             else persons.iloc[train_at].reset_index(drop=True),
                             rows_per_person=rows_per_person)
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    synthetic = draw(rows, seed)
    redrawn = 0
    # Redrawing copies is part of pseudolink's own synthesizers; a stand-in (a callable) and
    # dp-mst (where a data-dependent redraw would cost privacy) face the gate as they are.
    if isinstance(synthesizer, str) and synthesizer != "dp-mst":
        synthetic, redrawn = _without_copies(synthetic, real, draw, seed)
        if len(synthetic) < rows:
            raise AnonymizeError(f"{name}: only {len(synthetic)} of {rows} synthetic rows are "
                                 f"not copies of real rows after {MAX_REDRAWS} redraws")
    sample_seconds = time.perf_counter() - started

    report("quality report", 0, 3)
    quality = sdmetrics_reports(train, synthetic)
    report("quality report", 1, 3)
    utility = researcher_utility(train, synthetic)
    report("quality report", 2, 3)
    classes = dict(columns or {})
    gate = privacy_gate(
        train, hold, synthetic, limits, seed=seed,
        quasi_identifiers=[c for c, k in classes.items() if k == "quasi_identifier"],
        sensitive=[c for c, k in classes.items() if k == "sensitive"])
    report("quality report", 3, 3)
    result = SyntheticRelease(
        data=synthetic, synthesizer=name, quality=quality, utility=utility, gate=gate,
        fit_seconds=fit_seconds, sample_seconds=sample_seconds, dropped=dropped,
        constraints=rules.describe(), epsilon=epsilon if synthesizer == "dp-mst" else None,
        dp=dp_facts, redrawn_copies=redrawn,
    )
    if enforce and result.gate_applied:
        gate.raise_if_failed()
    return result


def check_release_inputs(df: pd.DataFrame, rows: int, *, synthesizer: str | Fitter,
                         columns: Mapping[str, str] | None = None,
                         epsilon: float | None = None, person_key: str | None = None) -> None:
    """Every refusal that needs no fitting, so a caller can run it before charging a budget."""
    if isinstance(synthesizer, str) and synthesizer not in RELEASE_SYNTHESIZERS:
        raise AnonymizeError(f"unknown synthesizer {synthesizer!r}; "
                             f"choose one of {', '.join(RELEASE_SYNTHESIZERS)}")
    if synthesizer == "dp-mst" and (epsilon is None or epsilon <= 0):
        raise AnonymizeError("the dp-mst synthesizer needs a positive --epsilon")
    if rows < 1:
        raise AnonymizeError(f"rows must be at least 1, got {rows}")
    key = person_key or PERSON_KEY
    if person_key is not None and person_key not in df.columns:
        raise AnonymizeError(f"person key {person_key!r} is not a column of the data")
    if synthesizer == "dp-mst" and key not in df.columns:
        raise AnonymizeError(
            "a DP release needs a person key (link_id, or the column the dataset declares) "
            "to bound each person's rows: without one, a person with many rows is protected "
            "only as one row of them")
    real, _ = modelled_columns(df, columns, person_key)
    if real.shape[1] < 2 or len(real) < 50:
        raise AnonymizeError(f"too little to synthesise: {len(real)} rows, {real.shape[1]} "
                             "modelled columns (need 50 and 2)")


def _fitted(synthesizer: str | Fitter, train: pd.DataFrame, rules: Constraints, *,
            epsilon: float | None, epochs: int, seed: int, progress: Progress,
            domains: Mapping[str, Any] | None = None, persons: pd.Series | None = None,
            rows_per_person: int = 1) -> tuple[Callable[[int, int], pd.DataFrame], dict]:
    """Fit once; return a sampler ``(rows, seed) -> frame`` in train's columns."""
    folded = rules.fold(train)
    if callable(synthesizer):
        return (lambda n, s: synthesizer(train, n, s)), {}
    if synthesizer == "default":
        model = SequentialTreeSynthesizer(seed=seed, min_leaf=max(100, len(train) // 200),
                                          max_depth=10).fit(folded, progress)
        return (lambda n, s: rules.unfold(model.sample(n, seed=s, progress=progress), train)), {}
    if synthesizer == "dp-mst":
        assert epsilon is not None
        facts: dict[str, Any] = {}
        declared = {col: dom for col, dom in (domains or {}).items() if col in folded.columns}
        if rules.area_columns and AREA in folded.columns and AREA not in declared:
            declared[AREA] = rules.area_domain()
        public = _lone_area_domains(folded, declared)
        declared.update(public)
        if AREA in declared and AREA not in (domains or {}):
            public[AREA] = declared[AREA]

        def draw_dp(n: int, s: int) -> pd.DataFrame:
            # MST measures once; sampling more rows is post-processing of the same tables.
            out = dp_mst(folded, n, epsilon=epsilon, seed=seed, progress=progress,
                         domains=declared, persons=persons, rows_per_person=rows_per_person)
            sources = {col: ("public administrative hierarchy: " + source if col in public
                             else source) for col, source in out.domains.items()}
            facts.update(epsilon_spent=out.epsilon_spent, mechanism=out.mechanism,
                         tree=[list(edge) for edge in out.tree], domains=sources,
                         epsilon_discovery=out.epsilon_discovery, domain_from_data=[],
                         rows_per_person=out.rows_per_person)
            return rules.unfold(out.data, train)

        return draw_dp, facts
    from anonymize.synth.synthesizers import fit_sdv

    model = fit_sdv(synthesizer, folded, seed=seed, epochs=epochs, progress=progress)
    return (lambda n, s: rules.unfold(model(n, s), train)), {}


def _lone_area_domains(folded: pd.DataFrame, declared: Mapping[str, Any]) -> dict[str, list]:
    """A 시도 or 시군구 column not folded with its partner takes the public list too."""
    from anonymize.hierarchies import load_admin_areas

    areas = load_admin_areas()
    out = {}
    for col in folded.columns:
        stem = str(col).rsplit("__", 1)[-1]
        if col not in declared and stem in ("sido", "sigungu"):
            out[col] = sorted(areas[stem].unique().tolist())
    return out


def _without_copies(synthetic: pd.DataFrame, real: pd.DataFrame,
                    draw: Callable[[int, int], pd.DataFrame], seed: int) -> tuple[pd.DataFrame,
                                                                                   int]:
    """Redraw synthetic rows that equal a real row; drop any that stay copies."""
    redrawn = 0
    for attempt in range(1, MAX_REDRAWS + 1):
        copied = _copied_mask(synthetic, real)
        if not copied.any():
            return synthetic, redrawn
        redrawn += int(copied.sum())
        fresh = draw(int(copied.sum()) * 2, seed + 7919 * attempt)
        fresh = fresh[~_copied_mask(fresh, real)].head(int(copied.sum()))
        synthetic = pd.concat([synthetic[~copied], fresh], ignore_index=True)
    return synthetic[~_copied_mask(synthetic, real)].reset_index(drop=True), redrawn


def _copied_mask(synthetic: pd.DataFrame, real: pd.DataFrame) -> np.ndarray:
    if not exact_copies(real, synthetic):
        return np.zeros(len(synthetic), dtype=bool)
    columns = list(synthetic.columns)
    marked = synthetic.reset_index(drop=True).assign(_row=np.arange(len(synthetic)))
    hits = marked.merge(real[columns].drop_duplicates(), on=columns, how="inner")["_row"]
    mask = np.zeros(len(synthetic), dtype=bool)
    mask[hits.to_numpy()] = True
    return mask
