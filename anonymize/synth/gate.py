"""The privacy gate a synthetic release must pass: copies, closeness, membership inference.

The real rows are split into *train* (the synthesizer sees them) and *holdout* (it never does)
before fitting. A synthesizer that generalises puts its rows no closer to train than holdout
rows are; one that memorises puts them closer. Three checks, each a small function with the
numbers a reviewer reads:

- exact copies: the share of synthetic rows equal to any real row (train or holdout);
- distance to closest record (DCR): each synthetic row's distance to its nearest train row,
  against the same distance for holdout rows (fresh rows of the same population: the
  baseline). The score is the probability that a synthetic row is closer to train than a
  holdout row is; 0.5 is what a synthesizer that never saw train would score;
- membership inference: an attacker ranks candidate rows by their distance to the nearest
  synthetic row (closer = "was in train"); the AUC of that guess over train rows (members)
  and holdout rows (non-members) is 0.5 when the release says nothing about membership.

Averages miss an attacker who targets a few people, so two per-record checks sit on top
(``per_person.py``): rows closer to a training record than a low percentile of holdout rows
ever are, and rows that match a person unique on the quasi-identifiers in the real data on
their sensitive values too. A holdout smaller than ``min_holdout`` rows gives an AUC too noisy
to decide on (the CART synthesizer alone scored 0.615 on 100 rows): the gate then refuses to
judge rather than pass or fail by chance.

Distances are Euclidean over numbers turned into their rank among train values (0..1) and
categories one-hot encoded with weight 1/sqrt(2), so a differing category counts like the
largest possible difference of one number. Categories with many levels (시군구) enter by level
code instead of one-hot, which gives the same distances with a far smaller matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.synth.per_person import disclosure_check
from anonymize.synth.privacy import exact_copies


@dataclass(frozen=True)
class GateThresholds:
    """Limits above which a release is refused (configurable per deployment)."""

    max_exact_copy_share: float = 0.0
    max_dcr_share: float = 0.6  # share of synthetic rows closer to train than to holdout
    max_mia_auc: float = 0.6  # membership-inference AUC; 0.5 = no information
    sample: int = 2000  # query rows per side (synthetic, holdout, members)
    reference: int = 20_000  # train / synthetic rows searched for the nearest record
    #: Below this many holdout rows the AUC's standard error (~0.04 at 100) is too large.
    min_holdout: int = 200
    #: A synthetic row nearer a training record than this percentile of holdout rows is
    #: "too close"; a synthesizer that never saw train has about this share of them.
    closeness_percentile: float = 1.0
    #: Synthetic rows matching a QI-unique person on every sensitive value allowed beyond
    #: what the holdout's chance rate explains (a 99.9 % Poisson bound).
    max_unique_matches: int = 0
    #: A numeric sensitive value "matches" within this share of the real rows' ranks...
    match_rank_tolerance: float = 0.001
    #: ...and a match counts when chance (the real marginals) explains it less often than this.
    match_chance: float = 0.01


@dataclass(frozen=True)
class GateResult:
    exact_copies: int
    exact_copy_share: float
    dcr_share: float  # P(synthetic row closer to train than a holdout row); 0.5 = baseline
    dcr_synthetic_median: float  # synthetic -> nearest train row
    dcr_holdout_median: float  # holdout -> nearest train row (the baseline)
    mia_auc: float
    thresholds: GateThresholds
    failures: list[str] = field(default_factory=list)
    holdout_rows: int = 0
    #: Share of (sampled) synthetic rows nearer a training record than ``closeness_limit``.
    too_close_share: float = 0.0
    closeness_limit: float = 0.0
    #: Synthetic rows that give away a QI-unique person's sensitive values, and how many
    #: of them chance explains (the holdout's rate); None = not run.
    unique_matches: int | None = None
    unique_matches_expected: float | None = None
    #: Checks that could not run, and why (e.g. no quasi-identifiers declared).
    not_run: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        doc = asdict(self)
        doc["passed"] = self.passed
        return doc

    def raise_if_failed(self) -> None:
        if self.failures:
            raise AnonymizeError("synthetic release refused by the privacy gate: "
                                 + "; ".join(self.failures))


def privacy_gate(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 thresholds: GateThresholds | None = None, *, seed: int = 0,
                 quasi_identifiers: Sequence[str] = (),
                 sensitive: Sequence[str] = ()) -> GateResult:
    """Measure the checks and list the failures (does not raise; see raise_if_failed).

    ``quasi_identifiers`` and ``sensitive`` (the catalog's classification) enable the
    per-person disclosure check; without both it is listed in ``not_run``.

    >>> rng = np.random.default_rng(0)
    >>> real = pd.DataFrame({"x": rng.normal(size=600), "k": rng.choice(list("ab"), 600)})
    >>> result = privacy_gate(real[:300], real[300:], real[:300])  # a "synthesizer" that copies
    >>> result.passed, result.exact_copy_share, result.failures[0].split(":")[0]
    (False, 1.0, 'exact copies 300 of 300 synthetic rows')
    """
    limits = thresholds or GateThresholds()
    if len(holdout) < 10:
        raise AnonymizeError(f"the privacy gate needs a holdout of at least 10 rows, "
                             f"got {len(holdout)}")
    rng = np.random.default_rng(seed)
    columns = [col for col in synthetic.columns if col in train.columns]
    real = pd.concat([train[columns], holdout[columns]], ignore_index=True)
    copies = exact_copies(real, synthetic[columns])
    copy_share = copies / max(len(synthetic), 1)

    encode = _Encoder(train[columns])
    train_ref = encode(_rows(train[columns], limits.reference, rng))
    synthetic_ref = encode(_rows(synthetic[columns], limits.reference, rng))
    synthetic_q = encode(_rows(synthetic[columns], limits.sample, rng))
    holdout_q = encode(_rows(holdout[columns], limits.sample, rng))
    members_q = encode(_rows(train[columns], len(holdout_q), rng))

    to_train = _nearest(synthetic_q, train_ref)
    baseline = _nearest(holdout_q, train_ref)
    # P(a synthetic row is closer to train than a holdout row is): 0.5 = no memorisation.
    dcr_share = _auc(-to_train, -baseline)
    # The attacker's guess: the closer a candidate is to some synthetic row, the likelier
    # it was trained on.
    auc = _auc(-_nearest(members_q, synthetic_ref), -_nearest(holdout_q, synthetic_ref))

    closeness_limit = float(np.percentile(baseline, limits.closeness_percentile))
    too_close = float(np.mean(to_train < closeness_limit)) if len(to_train) else 0.0
    # What a synthesizer that never saw train would show, give or take the uncertainty of
    # the percentile (estimated from the holdout) and of the share (from the sample).
    expected = limits.closeness_percentile / 100
    allowance = expected + 3 * np.sqrt(expected * (1 - expected)) * (
        1 / np.sqrt(len(baseline)) + 1 / np.sqrt(max(len(to_train), 1)))
    not_run = []
    if closeness_limit == 0.0:
        not_run.append("closeness: over 1% of holdout rows equal a training row on every "
                       "compared value, so no distance below theirs is unusual")
    matches = None
    qi = [c for c in quasi_identifiers if c in columns]
    sens = [c for c in sensitive if c in columns and c not in qi]
    if qi and sens:
        matches = disclosure_check(train[columns], holdout[columns], synthetic[columns],
                                   qi, sens, rank_tolerance=limits.match_rank_tolerance,
                                   chance=limits.match_chance,
                                   allowed=limits.max_unique_matches)
    else:
        not_run.append("per-person disclosure: needs quasi-identifier and sensitive columns "
                       "classified in the catalog")

    failures = []
    if len(holdout) < limits.min_holdout:
        failures.append(f"too little data to judge: a holdout of {len(holdout)} rows (need "
                        f"{limits.min_holdout}) leaves the membership AUC within chance of "
                        "either side of its limit")
    if copy_share > limits.max_exact_copy_share:
        failures.append(f"exact copies {copies} of {len(synthetic)} synthetic rows: share "
                        f"{copy_share:.4f} > {limits.max_exact_copy_share}")
    if dcr_share > limits.max_dcr_share:
        failures.append(f"distance to closest record: a synthetic row is closer to the training "
                        f"rows than a holdout row is with probability {dcr_share:.3f} (> "
                        f"{limits.max_dcr_share}; 0.5 means no memorisation; median DCR "
                        f"{np.median(to_train):.3f} vs holdout {np.median(baseline):.3f})")
    if auc > limits.max_mia_auc:
        failures.append(f"membership inference AUC {auc:.3f} > {limits.max_mia_auc} "
                        "(0.5 means an attacker learns nothing)")
    if closeness_limit > 0.0 and too_close > allowance:
        failures.append(f"{too_close:.1%} of synthetic rows are closer to a training record "
                        f"than {100 - limits.closeness_percentile:g}% of holdout rows ever are "
                        f"(distance {closeness_limit:.4f}; a synthesizer that never saw them "
                        f"would show about {expected:.1%}, at most {allowance:.1%})")
    if matches is not None and matches.excess:
        failures.append(f"{matches.synthetic} synthetic rows match a person unique on their "
                        f"quasi-identifiers ({', '.join(qi)}) in the training data on every "
                        f"sensitive value too ({', '.join(sens)}), where people the "
                        f"synthesizer never saw explain {matches.expected:.1f} (at most "
                        f"{matches.limit}): whoever knows those quasi-identifiers reads "
                        "those people's values")
    return GateResult(
        exact_copies=copies, exact_copy_share=copy_share, dcr_share=dcr_share,
        dcr_synthetic_median=float(np.median(to_train)),
        dcr_holdout_median=float(np.median(baseline)),
        mia_auc=auc, thresholds=limits, failures=failures, holdout_rows=len(holdout),
        too_close_share=too_close, closeness_limit=closeness_limit,
        unique_matches=None if matches is None else matches.synthetic,
        unique_matches_expected=None if matches is None else matches.expected,
        not_run=not_run,
    )


def _rows(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= n:
        return df
    return df.iloc[np.sort(rng.choice(len(df), n, replace=False))]


#: Categories with more levels than this are compared by level code rather than one-hot in
#: the matrix product: two 228-level 시군구 columns would make the product eight times wider.
ONE_HOT_LEVELS = 16


@dataclass(frozen=True)
class _Encoded:
    """Rows ready for distances: a dense part and the codes of the large categories."""

    dense: np.ndarray  # float64: number ranks, one-hot (weight 1/sqrt(2)) of small categories
    codes: np.ndarray  # int32, one column per large category; -1 = a level train never had

    def __len__(self) -> int:
        return len(self.dense)


class _Encoder:
    """Ranks for numbers (against train), weighted one-hot for categories.

    A large category is kept as its level code: a differing level adds (1/sqrt(2))^2 twice
    = 1 to the squared distance either way, so the distances are the same as with one-hot.
    """

    def __init__(self, train: pd.DataFrame) -> None:
        self.numeric = {col: np.sort(train[col].dropna().to_numpy(dtype=float))
                        for col in train.columns
                        if pd.api.types.is_numeric_dtype(train[col])
                        and not pd.api.types.is_bool_dtype(train[col])}
        self.levels = {col: pd.Index(train[col].astype(str).unique())
                       for col in train.columns if col not in self.numeric}

    def __call__(self, df: pd.DataFrame) -> _Encoded:
        dense, codes = [], []
        for col, ref in self.numeric.items():
            values = df[col].to_numpy(dtype=float)
            ranks = np.searchsorted(ref, values, side="left") / max(len(ref), 1)
            dense.append(np.nan_to_num(ranks, nan=0.5)[:, None])
        for col, levels in self.levels.items():
            index = levels.get_indexer(df[col].astype(str))  # unseen level -> -1
            if len(levels) > ONE_HOT_LEVELS:
                codes.append(index.astype(np.int32))
                continue
            onehot = np.zeros((len(df), len(levels) + 1))
            onehot[np.arange(len(df)), index] = 1.0  # unseen level -> the last column (-1)
            dense.append(onehot / np.sqrt(2))
        return _Encoded(
            dense=np.hstack(dense) if dense else np.zeros((len(df), 0)),
            codes=np.column_stack(codes) if codes else np.zeros((len(df), 0), dtype=np.int32),
        )


def _nearest(queries: _Encoded, reference: _Encoded, block: int = 256) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row.

    Squared distance = |q|^2 + |r|^2 - 2 q.r over the dense parts (one matrix product per
    block of queries) + the number of large categories whose levels differ.
    """
    ref_sq = (reference.dense**2).sum(axis=1)
    ref_minus_2 = np.ascontiguousarray(-2.0 * reference.dense.T)
    ref_codes = [np.ascontiguousarray(reference.codes[:, j])
                 for j in range(reference.codes.shape[1])]
    count_type = np.min_scalar_type(len(ref_codes))
    out = np.empty(len(queries))
    for start in range(0, len(queries), block):
        q = queries.dense[start:start + block]
        d2 = q @ ref_minus_2
        d2 += ref_sq
        if ref_codes:
            same = np.zeros(d2.shape, dtype=count_type)
            for j, codes in enumerate(ref_codes):
                same += queries.codes[start:start + block, j, None] == codes
            d2 += len(ref_codes)
            d2 -= same
        out[start:start + block] = d2.min(axis=1) + (q**2).sum(axis=1)
    out = np.sqrt(np.maximum(out, 0.0))
    # Rounding in the expansion leaves ~1e-8 for identical rows: those are exact matches.
    out[out < 1e-6] = 0.0
    return out


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a member > score of a non-member), ties counting half (Mann-Whitney)."""
    scores = np.concatenate([positive, negative])
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
