"""Disclosure checks for fitted models: too few residual degrees of freedom lets a
reader solve the model's coefficients back into individual records."""

from __future__ import annotations

from typing import Any

from anonymize.outputs.verdict import Verdict


def residual_df(model: Any) -> float:
    """The residual degrees of freedom of a statsmodels result, a mapping, or a number.

    >>> residual_df({"df_resid": 42})
    42.0
    """
    if isinstance(model, int | float):
        return float(model)
    if isinstance(model, dict):
        if "df_resid" in model:
            return float(model["df_resid"])
        if "nobs" in model and "df_model" in model:
            return float(model["nobs"]) - float(model["df_model"]) - 1.0
        raise KeyError("df_resid")
    return float(model.df_resid)


def check_residual_df(model: Any, threshold: int = 10) -> Verdict:
    """Hold a model with fewer than ``threshold`` residual degrees of freedom.

    >>> check_residual_df({"df_resid": 4}).reason
    'the model has 4 residual degrees of freedom, fewer than 10'
    """
    try:
        value = residual_df(model)
    except (KeyError, AttributeError, TypeError, ValueError):
        return Verdict.held("residual_df", "the model's residual degrees of freedom are not "
                                           "stated (df_resid, or nobs and df_model)")
    if value < threshold:
        return Verdict.held("residual_df", f"the model has {value:g} residual degrees of "
                                           f"freedom, fewer than {threshold}")
    return Verdict.passed("residual_df", f"{value:g} residual degrees of freedom "
                                         f"(at least {threshold})")
