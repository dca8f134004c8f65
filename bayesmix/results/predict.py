"""Predictions from a Fit on new or fitted rows, with their uncertainty.

The point prediction of a mode-based fit plugs in its estimates; that of a sampled fit
averages over the posterior draws, one draw at a time, so memory stays O(n_new). Intervals
and draws come from the posterior draws (for the mode-based fits, the draws of the Gaussian
approximation at the mode that ``idata.posterior`` holds): the expected value μ per draw
(``kind="response"``), η (``"link"``), or a new observation y drawn from the family given
that draw (``"prediction"``). Intervals are equal-tailed quantiles of those draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from ..errors import BayesmixError
from ..families.sampling import ordinal_probabilities
from . import naming
from .rows import ParameterDraws, encode_rows, require_trials

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["predict", "KINDS"]

KINDS = ("response", "link", "prediction")


def _mean(fit, eta, draw: dict, zeta):
    """E[y | η] under one parameter set (category probabilities for ordinal)."""
    fam = fit.design.family
    if fam.name == "ordinal":
        return ordinal_probabilities(eta, draw["cutpoints"], fam.link.name)
    if fam.name == "lognormal":
        return fam.mean(eta, params={"sigma": draw["params"]["sigma"]})
    if zeta is not None:
        return fam.mean(eta, params={"zi_prob": special.expit(zeta)})
    return fam.link.inverse(eta)


def _value(fit, rows, pd_, s, kind, rng):
    if kind == "prediction":
        from .predictive import draw_response

        return draw_response(fit, rows, pd_, s, rng)
    eta = pd_.eta(rows, s, rng)
    if kind == "link":
        return eta
    return _mean(fit, eta, pd_.take(s), pd_.zeta(rows, s))


def predict(
    fit: Fit,
    newdata: pd.DataFrame | None = None,
    *,
    kind: str = "response",
    include_random: bool | str = True,
    new_levels: str = "population",
    interval: float | None = None,
    draws: bool = False,
    seed: int | None = None,
):
    """Predicted means, linear predictors or new observations, for new or fitted rows.

    Parameters
    ----------
    fit : Fit
    newdata : DataFrame, optional
        Rows to predict; the fitted rows when omitted. Every column the model uses must be
        there; a factor's values must be levels seen when fitting (a DataError names the
        column and the unseen levels otherwise).
    kind : {"response", "link", "prediction"}
        μ = E[y | η] (probabilities for bernoulli/binomial, expected counts, (1 − π) μ for
        the zero-inflated families, exp(η + σ²/2) for the lognormal, category probabilities
        for ordinal), η, or a new observation y (its mean, and with ``interval`` the
        prediction interval; the ordinal response as 0-based category codes).
    include_random : bool or str
        Add the random effects (True), predict at the population level (False), or keep
        the terms a formula names, e.g. ``"(1 | Subject)"``.
    new_levels : {"population", "sample", "error"}
        A grouping level not seen when fitting gets b = 0 (``"population"``), b drawn from
        the fitted covariance per draw (``"sample"``, brms's ``sample_new_levels``), or is
        refused.
    interval : float, optional
        Probability of an equal-tailed interval from the draws (e.g. 0.9).
    draws : bool
        Return the draws themselves: an xarray DataArray (chain, draw, obs[, category]).
    seed : int, optional
        Seeds the draws of new levels' effects and of new observations.

    Returns
    -------
    Series indexed by row (``mu``, ``eta`` or ``y``); with ``interval`` a DataFrame with
    columns ``estimate``, ``lower``, ``upper``; for ordinal probabilities one column per
    category (with ``interval``, rows indexed by (row, category)); with ``draws`` a
    DataArray.
    """
    if kind not in KINDS:
        raise BayesmixError(f"kind must be one of {KINDS}, not {kind!r}")
    if interval is not None and not (isinstance(interval, float) and 0.0 < interval < 1.0):
        raise BayesmixError(f"interval must be a probability such as 0.9, not {interval!r}")
    design = fit.design
    rows = encode_rows(fit, newdata, include_random, new_levels)
    if kind == "prediction":
        require_trials(fit, rows)
    rng = np.random.default_rng(seed)
    sampled_levels = any(t[4] for t in rows.terms)
    needs_draws = (draws or interval is not None or kind == "prediction" or sampled_levels
                   or fit.estimates is None)
    categories = (design.family.name == "ordinal" and kind == "response")
    name = {"response": "mu", "link": "eta", "prediction": "y"}[kind]

    if not needs_draws:
        pd_ = ParameterDraws.from_estimates(fit)
        out = _value(fit, rows, pd_, 0, kind, rng)
        return _frame(out, rows.index, design, categories, name)

    pd_ = ParameterDraws.from_posterior(fit)
    keep_all = draws or interval is not None
    stack = [] if keep_all else None
    total = None
    for s in range(pd_.S):
        value = _value(fit, rows, pd_, s, kind, rng)
        if keep_all:
            stack.append(value)
        total = value if total is None else total + value
    mean = total / pd_.S
    if fit.estimates is not None and kind != "prediction" and not sampled_levels:
        mean = _value(fit, rows, ParameterDraws.from_estimates(fit), 0, kind, rng)
    if draws:
        return _draws_array(np.stack(stack), pd_.chains, rows.index, design, categories,
                            name)
    if interval is None:
        return _frame(mean, rows.index, design, categories, name)
    values = np.stack(stack)
    tail = 0.5 * (1.0 - interval)
    lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0)
    if categories:
        levels = [str(v) for v in design.response_levels]
        index = pd.MultiIndex.from_product([rows.index, levels], names=["row", "category"])
        return pd.DataFrame({"estimate": mean.ravel(), "lower": lower.ravel(),
                             "upper": upper.ravel()}, index=index).assign(interval=interval)
    return pd.DataFrame({"estimate": mean, "lower": lower, "upper": upper},
                        index=rows.index).assign(interval=interval)


def _frame(out, index, design, categories, name):
    if categories:
        return pd.DataFrame(out, index=index, columns=[str(v) for v in design.response_levels])
    return pd.Series(out, index=index, name=name)


def _draws_array(values, chains, index, design, categories, name):
    import xarray as xr

    S = values.shape[0]
    values = values.reshape(chains, S // chains, *values.shape[1:])
    dims = ["chain", "draw", naming.OBS] + (["category"] if categories else [])
    coords = {"chain": np.arange(chains), "draw": np.arange(S // chains),
              naming.OBS: np.asarray(index)}
    if categories:
        coords["category"] = [str(v) for v in design.response_levels]
    return xr.DataArray(values, dims=dims, coords=coords, name=name)
