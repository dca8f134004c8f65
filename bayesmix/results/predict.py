"""Predictions from a Fit: η = Xβ + Σ_k X_k b_k[level] + offset, on new or fitted rows.

Mode-based fits plug in their estimates. Sampled fits average over the posterior draws, one
draw at a time so memory stays O(n_new): the mean of μ over draws on the response scale, the
mean of η on the link scale. A level not seen when fitting gets b = 0, the population
value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from ..design import new_data
from ..errors import BayesmixError
from . import naming

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["predict"]


def _eta(X, offset, term_parts, beta, bs):
    """η for one parameter set: β (p,), bs = list of (m, r) arrays per term."""
    eta = X @ beta
    if offset is not None:
        eta = eta + offset
    for (codes, Xk), b in zip(term_parts, bs):
        known = codes >= 0
        contrib = np.einsum("ij,ij->i", Xk[known], b[codes[known]])
        eta[known] += contrib
    return eta


def _ordinal_probs(eta: np.ndarray, cutpoints: np.ndarray) -> np.ndarray:
    cdf = special.expit(cutpoints[None, :] - eta[:, None])
    cdf = np.hstack([np.zeros((len(eta), 1)), cdf, np.ones((len(eta), 1))])
    return np.diff(cdf, axis=1)


def predict(
    fit: Fit,
    newdata: pd.DataFrame | None = None,
    *,
    kind: str = "response",
    include_random: bool = True,
    allow_new_levels: bool = True,
) -> pd.Series | pd.DataFrame:
    """Predicted means (or linear predictors) for new or fitted rows.

    Parameters
    ----------
    fit : Fit
    newdata : DataFrame, optional
        Rows to predict; the fitted rows when omitted.
    kind : {"response", "link"}
        μ = E[y | η] (probabilities for bernoulli/binomial, expected counts for poisson and
        the negative binomials, (1 − π) μ with the zero-inflation probability π for the
        zero-inflated families, exp(η + σ²/2) for the lognormal, category probabilities
        for ordinal) or η (of the count part for the zero-inflated families).
    include_random : bool
        Add the random effects (True) or predict at the population level (False).
    allow_new_levels : bool
        Predict unseen levels at the population value (True) or raise.

    Returns
    -------
    Series indexed by row, or for ordinal responses a DataFrame with one column per category.
    """
    if kind not in ("response", "link"):
        raise BayesmixError(f"kind must be 'response' or 'link', not {kind!r}")
    design = fit.design
    if newdata is None:
        X, offset, rows, X_zi = design.X, design.offset, design.rows, design.X_zi
        parts = [(t.codes, t.X) for t in design.terms]
    else:
        nd = new_data(design, newdata, allow_new_levels=allow_new_levels)
        X, offset, rows, X_zi = nd.X, nd.offset, nd.rows, nd.X_zi
        parts = [(nd.codes[t.label], nd.term_X[t.label]) for t in design.terms]
    if not include_random:
        parts = []
    labels = [t.label for t in design.terms][: len(parts)]
    fam = design.family
    ordinal = fam.name == "ordinal"

    def response(eta, cut, sigma, gamma):
        if ordinal:
            return _ordinal_probs(eta, cut)
        if fam.name == "lognormal":
            return fam.mean(eta, params={"sigma": sigma})
        if X_zi is not None:
            return fam.mean(eta, params={"zi_prob": special.expit(X_zi @ gamma)})
        return fam.link.inverse(eta)

    lognormal = fam.name == "lognormal"
    if fit.estimates is not None:
        est = fit.estimates
        eta = _eta(X, offset, parts, est.beta, [est.term(lb).b for lb in labels])
        out = eta if kind == "link" else response(eta, est.cutpoints, est.sigma, est.zi_coef)
    else:
        post = fit.idata.posterior
        beta = post[naming.BETA].values.reshape(-1, design.p)
        bs = [post[naming.b_var(lb)].values for lb in labels]
        bs = [b.reshape(-1, *b.shape[2:]) for b in bs]
        cuts = (post[naming.CUTPOINTS].values.reshape(beta.shape[0], -1) if ordinal else None)
        sigmas = post[naming.SIGMA].values.reshape(-1) if lognormal else None
        gammas = (post[naming.BETA_ZI].values.reshape(beta.shape[0], -1)
                  if X_zi is not None else None)
        total = None
        for s in range(beta.shape[0]):
            eta = _eta(X, offset, parts, beta[s], [b[s] for b in bs])
            value = eta if kind == "link" else response(
                eta, cuts[s] if ordinal else None, sigmas[s] if lognormal else None,
                gammas[s] if gammas is not None else None)
            total = value if total is None else total + value
        out = total / beta.shape[0]
    if ordinal and kind == "response":
        return pd.DataFrame(out, index=rows, columns=[str(v) for v in design.response_levels])
    return pd.Series(out, index=rows, name="mu" if kind == "response" else "eta")
