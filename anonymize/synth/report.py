"""How good a synthetic table is: SDMetrics' reports plus the analyses researchers run.

SDMetrics scores shapes and pairs; a researcher also asks "does my regression come out the
same?" and "does my cross-tab look the same?". Both are run on real and synthetic side by side.
Everything here is JSON-ready for the catalog; :func:`write_chart` draws it as a PNG.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TABLE = "data"


#: An integer column with at most this many distinct values is scored as ordinal categories
#: (household size), as SDV's detection would; more (birth year, income) are numbers.
ORDINAL_LEVELS = 20


def sdmetrics_metadata(real: pd.DataFrame) -> dict[str, Any]:
    """SDMetrics' metadata for ``real``: each column's sdtype, decided here.

    SDMetrics is MIT-licensed; SDV, whose detection this replaces, is under the Business
    Source License. Deciding here means the default and dp-mst releases never import SDV
    (SDMetrics still imports DataCebo's ``copulas``, see docs/synthetic-data.md).

    >>> meta = sdmetrics_metadata(pd.DataFrame({"n": [1.5, 2.0, 2.5], "k": [1, 2, 2],
    ...                                         "c": ["a", "b", "a"], "i": ["x", "y", "z"]}))
    >>> {c: v["sdtype"] for c, v in meta["tables"]["data"]["columns"].items()}
    {'n': 'numerical', 'k': 'ordinal', 'c': 'categorical', 'i': 'id'}
    """
    columns = {}
    for name, column in real.items():
        if pd.api.types.is_bool_dtype(column):
            sdtype = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(column):
            sdtype = "datetime"
        elif pd.api.types.is_integer_dtype(column):
            sdtype = "ordinal" if column.nunique() <= ORDINAL_LEVELS else "numerical"
        elif pd.api.types.is_numeric_dtype(column):
            sdtype = "numerical"
        elif len(column) > 1 and column.nunique() == len(column):
            sdtype = "id"  # a value per row (a key): no distribution to compare
        else:
            sdtype = "categorical"
        columns[name] = {"sdtype": sdtype}
    return {"tables": {TABLE: {"columns": columns}}}


def sdmetrics_reports(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    """Quality (column shapes, pair trends) and diagnostic (validity, structure) scores."""
    from sdmetrics.reports import DiagnosticReport, QualityReport

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = sdmetrics_metadata(real)
        quality, diagnostic = QualityReport(), DiagnosticReport()
        for report in (quality, diagnostic):
            report.generate({TABLE: real}, {TABLE: synthetic[real.columns]}, metadata,
                            verbose=False)
    shapes = quality.get_details("Column Shapes")
    pairs = quality.get_details("Column Pair Trends").dropna(subset=["Score"])
    return {
        "quality_score": float(quality.get_score()),
        "properties": {row.Property: _num(row.Score)
                       for row in quality.get_properties().itertuples()},
        "column_shapes": {row.Column: _num(row.Score) for row in shapes.itertuples()},
        "worst_pairs": [{"columns": [r["Column 1"], r["Column 2"]], "score": _num(r["Score"])}
                        for _, r in pairs.nsmallest(5, "Score").iterrows()],
        "diagnostic_score": float(diagnostic.get_score()),
        "diagnostic": {row.Property: _num(row.Score)
                       for row in diagnostic.get_properties().itertuples()},
    }


def regression_side_by_side(real: pd.DataFrame, synthetic: pd.DataFrame, target: str,
                            predictors: list[str]) -> dict[str, Any]:
    """OLS coefficients of ``target`` on ``predictors``, fitted on each table.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=500)
    >>> real = pd.DataFrame({"x": x, "y": 2 * x + 1 + rng.normal(0, 0.1, 500)})
    >>> out = regression_side_by_side(real, real, "y", ["x"])
    >>> round(out["coefficients"]["x"]["real"], 1), out["coefficients"]["x"]["synthetic"] > 1.9
    (2.0, True)
    """
    def fit(df: pd.DataFrame) -> tuple[np.ndarray, float]:
        data = df[[target, *predictors]].dropna().astype(float)
        if len(data) <= len(predictors) + 1:
            return np.full(len(predictors) + 1, np.nan), float("nan")
        x = np.column_stack([np.ones(len(data)), data[predictors].to_numpy()])
        y = data[target].to_numpy()
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = y - x @ beta
        r2 = 1 - residual.var() / y.var() if y.var() > 0 else 0.0
        return beta, float(r2)

    real_beta, real_r2 = fit(real)
    synth_beta, synth_r2 = fit(synthetic)
    names = ["(intercept)", *predictors]
    return {
        "model": f"OLS {target} ~ {' + '.join(predictors)}",
        "coefficients": {name: {"real": float(r), "synthetic": float(s)}
                         for name, r, s in zip(names, real_beta, synth_beta, strict=True)},
        "r2": {"real": real_r2, "synthetic": synth_r2},
    }


def crosstab_side_by_side(real: pd.DataFrame, synthetic: pd.DataFrame, rows: str,
                          columns: str) -> dict[str, Any]:
    """Row percentages of a cross-tab in each table, and the largest gap in points."""
    def shares(df: pd.DataFrame) -> pd.DataFrame:
        return pd.crosstab(df[rows], df[columns], normalize="index") * 100

    r, s = shares(real), shares(synthetic)
    r, s = r.align(s, fill_value=0.0)
    return {
        "rows": rows, "columns": columns,
        "real_percent": _table(r), "synthetic_percent": _table(s),
        "max_gap_points": float((r - s).abs().to_numpy().max()) if r.size else 0.0,
    }


def researcher_utility(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    """The demo-shaped analyses when their columns exist (matched after the holder prefix)."""
    by_stem = {col.rsplit("__", 1)[-1]: col for col in real.columns}
    out: dict[str, Any] = {}
    target = by_stem.get("benefit_amount")
    predictors = [by_stem[s] for s in ("birth_year", "household_size", "income") if s in by_stem]
    if target and predictors:
        out["regression"] = regression_side_by_side(real, synthetic, target, predictors)
    if "sido" in by_stem and "benefit_type" in by_stem:
        out["crosstab"] = crosstab_side_by_side(real, synthetic, by_stem["sido"],
                                                by_stem["benefit_type"])
    return out


def write_chart(report: dict[str, Any], path: Path) -> Path:
    """Column shapes, pair trends and regression coefficients, real vs synthetic, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality = report["quality"]
    regression = report.get("utility", {}).get("regression")
    fig, axes = plt.subplots(1, 2 if regression else 1, figsize=(12 if regression else 7, 5),
                             squeeze=False)
    shapes = quality["column_shapes"]
    ax = axes[0][0]
    ax.barh(list(shapes), [v or 0 for v in shapes.values()], color="#4C72B0")
    ax.set_xlim(0, 1)
    ax.set_title(f"Column shapes (quality {quality['quality_score']:.1%})")
    if regression:
        coefs = {k: v for k, v in regression["coefficients"].items() if k != "(intercept)"}
        names = list(coefs)
        y = np.arange(len(names))
        ax = axes[0][1]
        ax.barh(y - 0.2, [coefs[n]["real"] for n in names], height=0.4, label="real")
        ax.barh(y + 0.2, [coefs[n]["synthetic"] for n in names], height=0.4, label="synthetic")
        ax.set_yticks(y, names)
        ax.legend()
        ax.set_title(regression["model"])
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    tmp.replace(path)
    return path


def _table(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(i): {str(c): round(float(v), 2) for c, v in row.items()}
            for i, row in frame.iterrows()}


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
