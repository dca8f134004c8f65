"""Draws of the model's free variables → the shared posterior names, in data scale.

β comes back in X's column order (the intercept moved back from the centre of the
predictors), σ and the cutpoints as sampled, and for every term

- ``sd_<label>`` (chain, draw, r) as sampled and, for correlated terms, ``cor_<label>``
  (chain, draw, r, r) = L Lᵀ from the canonical partial correlations;
- ``b_<label>`` (chain, draw, m, r) = z Lᵀ D (or z D), the random effects themselves.

Then the pointwise log-likelihood ``y`` (chain, draw, n) from the families' NumPy
log-likelihoods, in blocks of draws so that the temporaries stay small.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ...families.family import ordinal_loglik
from ...results import naming
from ...spec import ModelSpec
from .correlation import cholesky_from_cpc_numpy
from .model import BETA, CUTPOINTS, INTERCEPT, SIGMA, ModelLayout

__all__ = ["posterior_draws", "pointwise_loglik"]

_BLOCK_VALUES = 5_000_000  # draws × rows per block of the log-likelihood computation


def posterior_draws(spec: ModelSpec, layout: ModelLayout,
                    raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Shared posterior variables from the sampler's draws (each (chain, draw, ...))."""
    design = spec.design
    p = len(design.x_names)
    some = next(iter(raw.values()))
    chains, draws = some.shape[:2]
    beta = np.zeros((chains, draws, p))
    slopes = raw[BETA] if len(layout.slope_index) else np.zeros((chains, draws, 0))
    beta[..., layout.slope_index] = slopes
    if layout.centred:
        beta[..., layout.intercept_index] = raw[INTERCEPT] - slopes @ layout.xbar
    out = {naming.BETA: beta}
    if layout.has_sigma:
        out[naming.SIGMA] = raw[SIGMA]
    if layout.has_cutpoints:
        out[naming.CUTPOINTS] = raw[CUTPOINTS]
    for t, tl in zip(design.terms, layout.terms):
        z = raw[tl.effects]
        sd = raw[tl.sd]
        if tl.correlated:
            L = cholesky_from_cpc_numpy(raw[tl.corr], t.r)
            cor = np.einsum("cdik,cdjk->cdij", L, L)
            idx = np.arange(t.r)
            cor[..., idx, idx] = 1.0
            out[naming.cor_var(t.label)] = cor
            b = z if tl.centred else (np.einsum("cdmk,cdjk->cdmj", z, L)
                                      * sd[:, :, None, :])
        else:
            b = z if tl.centred else z * sd[:, :, None, :]
        out[naming.sd_var(t.label)] = sd
        out[naming.b_var(t.label)] = b
    return out


def _eta_block(design, posterior, sl: slice) -> np.ndarray:
    beta = posterior[naming.BETA].reshape(-1, len(design.x_names))[sl]
    eta = beta @ design.X.T
    for t in design.terms:
        b = posterior[naming.b_var(t.label)].reshape(-1, t.m, t.r)[sl]
        for c in range(t.r):
            eta += b[:, t.codes, c] * t.X[:, c]
    if design.offset is not None:
        eta += design.offset
    return eta


def _log_choose(y, trials):
    """log C(n, y) per row (0 for bernoulli), computed once for all draws."""
    if trials is None:
        return 0.0
    return special.gammaln(trials + 1) - special.gammaln(y + 1) - special.gammaln(trials - y + 1)


def _binary_loglik(link: str, eta, y, n, log_choose):
    """log C(n, y) + y log μ + (n − y) log(1 − μ), stable in the tails of each link (the
    Family's μ-based version clips μ at machine epsilon, which is off for |η| ≳ 35 (logit)
    or η ≳ 3.6 (cloglog))."""
    if link == "logit":
        return log_choose + y * eta - n * np.logaddexp(0.0, eta)
    if link == "probit":
        return log_choose + y * special.log_ndtr(eta) + (n - y) * special.log_ndtr(-eta)
    e = np.exp(np.minimum(eta, 700.0))  # cloglog: log(1 − μ) = −e^η
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_mu = np.where(y > 0, y * np.log(-np.expm1(-e)), 0.0)
    return log_choose + y_log_mu - (n - y) * e


def _family_loglik(fam, y, eta, trials, sigma, constant):
    if fam.name in ("bernoulli", "binomial"):
        n = 1.0 if trials is None else trials
        return _binary_loglik(fam.link.name, eta, y, n, constant)
    if fam.name == "poisson" and fam.link.name == "log":
        return y * eta - np.exp(np.minimum(eta, 700.0)) - constant
    mu = fam.link.inverse(eta)
    return fam.loglik(y, mu, trials, sigma) if fam.has_sigma else fam.loglik(y, mu, trials)


def pointwise_loglik(spec: ModelSpec, posterior: dict[str, np.ndarray]) -> np.ndarray:
    """log p(y_i | draw) for every draw and row, shape (chain, draw, n).

    R's constants included: the binary and Poisson-log families in forms that stay exact in
    the tails, the others through :meth:`Family.loglik`, the ordinal family through
    :func:`~bayesmix.families.family.ordinal_loglik`. Prior weights as in the model:
    precision weights for the Gaussian family, multiplying the log-likelihood otherwise; rows
    with weight 0 get 0.
    """
    design = spec.design
    fam = design.family
    chains, draws = posterior[naming.BETA].shape[:2]
    total, n = chains * draws, design.n
    out = np.empty((total, n))
    step = max(1, _BLOCK_VALUES // max(n, 1))
    w = design.weights
    sigma = posterior[naming.SIGMA].reshape(-1) if fam.has_sigma else None
    cuts = (posterior[naming.CUTPOINTS].reshape(total, -1) if fam.name == "ordinal"
            else None)
    constant = (_log_choose(design.y, design.trials) if fam.name in ("bernoulli", "binomial")
                else special.gammaln(design.y + 1) if fam.name == "poisson" else None)
    for start in range(0, total, step):
        sl = slice(start, min(start + step, total))
        eta = _eta_block(design, posterior, sl)
        if fam.name == "ordinal":
            block = np.stack([ordinal_loglik(design.y, e, c) for e, c in zip(eta, cuts[sl])])
        else:
            s = None
            if fam.has_sigma:
                s = sigma[sl][:, None]
                if w is not None:
                    with np.errstate(divide="ignore"):
                        s = s / np.sqrt(w)
            block = _family_loglik(fam, design.y, eta, design.trials, s, constant)
        if w is not None:
            block = np.where(w > 0, block if fam.has_sigma else w * block, 0.0)
        out[sl] = block
    return out.reshape(chains, draws, n)
