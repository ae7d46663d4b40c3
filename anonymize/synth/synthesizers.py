"""Synthetic microdata with SDV 2, released together with its quality and privacy evidence.

Identifier-like columns (the ``drop`` list, and whatever SDV detects as an ``id`` or primary
key) are never modelled: a synthesizer that learned them could only memorise or invent
identifiers, and neither belongs in a release.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from anonymize.errors import AnonymizeError
from anonymize.synth.epochs import reporting_epochs
from anonymize.synth.privacy import exact_copies

Progress = Callable[[str, int, int | None], None]

TABLE = "data"
SYNTHESIZERS = ("gaussian_copula", "ctgan", "tvae")
NEURAL = ("ctgan", "tvae")
#: Rows per ``sample`` call, so that sampling reports progress as it goes.
SAMPLE_BATCH = 10_000


@dataclass(frozen=True)
class SynthResult:
    """Synthetic rows plus the evidence a reviewer needs before release."""

    data: pd.DataFrame
    quality_score: float  # SDMetrics QualityReport overall score, 0..1
    column_shapes: pd.DataFrame  # per column: how well the marginal distribution is kept
    column_pair_trends: pd.DataFrame  # per pair: how well correlations/contingencies are kept
    exact_copies: int  # synthetic rows identical to some real row
    fit_seconds: float
    synthesizer: str
    seed: int
    dropped: list[str] = field(default_factory=list)
    properties: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The evidence without the rows, JSON-ready."""
        return {
            "rows": len(self.data),
            "columns": list(self.data.columns),
            "quality_score": self.quality_score,
            "properties": self.properties,
            "exact_copies": self.exact_copies,
            "fit_seconds": self.fit_seconds,
            "synthesizer": self.synthesizer,
            "seed": self.seed,
            "dropped": self.dropped,
        }


def synthesize(df: pd.DataFrame, rows: int, *, synthesizer: str = "gaussian_copula",
               seed: int = 0, drop: Sequence[str] = ("link_id",), progress: Progress | None = None,
               epochs: int = 300) -> SynthResult:
    """Fit ``synthesizer`` on ``df`` and sample ``rows`` synthetic rows.

    ``epochs`` applies to the neural synthesizers (``ctgan``, ``tvae``) only.
    """
    report = progress or (lambda stage, done, total: None)
    if synthesizer not in SYNTHESIZERS:
        raise AnonymizeError(f"unknown synthesizer {synthesizer!r}; "
                             f"choose one of {', '.join(SYNTHESIZERS)}")
    if rows < 1:
        raise AnonymizeError(f"rows must be at least 1, got {rows}")
    if df.empty:
        raise AnonymizeError("cannot synthesise from an empty table")

    report("detect metadata", 0, 1)
    real, metadata, dropped = _modelled_table(df, drop)
    report("detect metadata", 1, 1)

    _seed_everything(seed)
    started = time.perf_counter()
    model = _fit(synthesizer, metadata, real, epochs, report)
    fit_seconds = time.perf_counter() - started
    synthetic = _sample(model, rows, seed, "sample", report)

    report("quality report", 0, 1)
    quality = _quality(real, synthetic, metadata)
    report("quality report", 1, 1)
    return SynthResult(
        data=synthetic,
        quality_score=float(quality.get_score()),
        column_shapes=_details(quality, "Column Shapes"),
        column_pair_trends=_details(quality, "Column Pair Trends"),
        exact_copies=exact_copies(real, synthetic),
        fit_seconds=fit_seconds,
        synthesizer=synthesizer,
        seed=seed,
        dropped=dropped,
        # A property with nothing to score (one column has no pairs) is None, not NaN.
        properties={row.Property: None if pd.isna(row.Score) else float(row.Score)
                    for row in quality.get_properties().itertuples()},
    )


def _modelled_table(df: pd.DataFrame, drop: Sequence[str]) -> tuple[pd.DataFrame, Any, list[str]]:
    """The columns SDV may model, their metadata, and the identifier-like columns removed."""
    from sdv.metadata import Metadata

    dropped = [col for col in drop if col in df.columns]
    real = df.drop(columns=dropped)
    metadata = Metadata.detect_from_dataframes({TABLE: real})
    table = metadata.to_dict()["tables"][TABLE]
    id_like = [col for col, spec in table["columns"].items() if spec.get("sdtype") == "id"]
    if id_like:
        dropped += id_like
        real = real.drop(columns=id_like)
        metadata = Metadata.detect_from_dataframes({TABLE: real})
    if real.shape[1] == 0:
        raise AnonymizeError("no column left to model after dropping identifier-like columns "
                             f"({', '.join(dropped)})")
    return real.reset_index(drop=True), metadata, dropped


def _seed_everything(seed: int) -> None:
    # SDV draws from the global numpy/torch/random generators while fitting.
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch ships with sdv
        return
    torch.manual_seed(seed)


def _make(name: str, metadata: Any, epochs: int) -> Any:
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

    if name == "gaussian_copula":
        return GaussianCopulaSynthesizer(metadata)
    if name == "ctgan":
        return CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=False)
    return TVAESynthesizer(metadata, epochs=epochs, enable_gpu=False)


def _fit(name: str, metadata: Any, real: pd.DataFrame, epochs: int, report: Progress) -> Any:
    """Build and fit the model; stage ``fit <name>`` counts epochs (CTGAN, TVAE) or 0..1."""
    if name in NEURAL and epochs < 1:
        raise AnonymizeError(f"epochs must be at least 1 for {name}, got {epochs}")
    stage, steps = f"fit {name}", epochs if name in NEURAL else 1
    report(stage, 0, steps)
    with warnings.catch_warnings():
        # SDV warns about detected types and unsaved metadata: nothing a caller can act on.
        warnings.simplefilter("ignore")
        model = _make(name, metadata, epochs)
        with reporting_epochs(steps, lambda done: report(stage, done, steps)):
            model.fit({TABLE: real})
    return model


def _sample(model: Any, rows: int, seed: int, stage: str, report: Progress) -> pd.DataFrame:
    """``rows`` rows in batches of :data:`SAMPLE_BATCH`, each batch reported."""
    # Private API, but the only way SDV 2 offers to seed sampling after fit.
    model._set_random_state(seed)
    report(stage, 0, rows)
    batches = []
    for start in range(0, rows, SAMPLE_BATCH):
        batches.append(model.sample(min(SAMPLE_BATCH, rows - start))[TABLE])
        report(stage, min(start + SAMPLE_BATCH, rows), rows)
    return pd.concat(batches, ignore_index=True)


def _quality(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: Any) -> Any:
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({TABLE: real}, {TABLE: synthetic[real.columns]}, metadata.to_dict(),
                        verbose=False)
    return report


def _details(report: Any, prop: str) -> pd.DataFrame:
    """A property's per-column (or per-pair) scores, without the single table's name."""
    details = report.get_details(prop)
    return details.drop(columns=["Table"], errors="ignore").reset_index(drop=True)


def fit_sdv(name: str, real: pd.DataFrame, *, seed: int = 0, epochs: int = 300,
            progress: Progress | None = None) -> Callable[[int, int], pd.DataFrame]:
    """Fit one of SDV's synthesizers; return a sampler ``(rows, seed) -> frame``."""
    report = progress or (lambda stage, done, total: None)
    if name not in SYNTHESIZERS:
        raise AnonymizeError(f"unknown SDV synthesizer {name!r}; "
                             f"choose one of {', '.join(SYNTHESIZERS)}")
    real, metadata, _ = _modelled_table(real, ())
    _seed_everything(seed)
    model = _fit(name, metadata, real, epochs, report)

    def sample(rows: int, sample_seed: int) -> pd.DataFrame:
        return _sample(model, rows, sample_seed, f"sample {name}", report)

    return sample
