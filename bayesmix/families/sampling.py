"""Random responses of every family given the linear predictor: what ``simulate``,
``posterior_predictive`` and prediction intervals of new observations draw from.

Each draw follows the density the backends fit (:mod:`.kernels`): Gaussian precision weights
(y ~ N(μ, σ²/w)), binomial successes out of the trials, NB2 as a gamma–Poisson mixture,
NB1 as the negative binomial of size μ/φ, gamma with shape φ and mean μ, beta with
precision φ, μ + σ t_ν, exp(N(η, σ²)), a structural zero with probability π before a
zero-inflated count, and the cumulative model's categories (0-based codes, as the design
stores the ordinal response).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..errors import FamilyError
from .family import Family

__all__ = ["sample_response", "ordinal_probabilities"]


def ordinal_probabilities(eta: np.ndarray, cutpoints: np.ndarray, link: str) -> np.ndarray:
    """P(y = j | η) of the cumulative model ``F(α_j − η)``, shape (..., K): the logistic F
    for the logit link, the normal for probit. ``cutpoints`` broadcasts against η's leading
    axes with its last axis the K − 1 thresholds."""
    cdf_fn = special.expit if link == "logit" else special.ndtr
    eta = np.asarray(eta, dtype=float)
    cut = np.asarray(cutpoints, dtype=float)
    if cut.ndim > 1:
        cut = cut[..., None, :]  # one set of thresholds per leading index of η
    cdf = cdf_fn(cut - eta[..., None])
    zeros = np.zeros(cdf.shape[:-1] + (1,))
    return np.diff(np.concatenate([zeros, cdf, zeros + 1.0], axis=-1), axis=-1)


def sample_response(family: Family, eta: np.ndarray, rng: np.random.Generator, *,
                    params: dict | None = None, trials: np.ndarray | None = None,
                    weights: np.ndarray | None = None, zeta: np.ndarray | None = None,
                    cutpoints: np.ndarray | None = None) -> np.ndarray:
    """Draws of y given η, one per entry of ``eta`` (any shape, rows last).

    Parameters
    ----------
    family : Family
    eta : ndarray (..., n)
    rng : numpy Generator
    params : dict name → float or ndarray (...,)
        The family's parameters (``sigma``, ``phi``, ``nu``), one value per leading index
        of ``eta`` (broadcast over rows).
    trials, weights : ndarray (n,), optional
        Binomial trials; prior weights (precision weights of the Gaussian families).
    zeta : ndarray (..., n), optional
        Zero-inflation log-odds of a zero-inflated family.
    cutpoints : ndarray (..., K − 1), optional
        Ordinal thresholds.
    """
    eta = np.asarray(eta, dtype=float)
    params = {k: np.asarray(v, dtype=float)[..., None] for k, v in (params or {}).items()}
    name = family.name
    if name == "ordinal":
        probs = ordinal_probabilities(eta, cutpoints, family.link.name)
        u = rng.random(eta.shape + (1,))
        return (u > np.cumsum(probs, axis=-1)).sum(axis=-1).astype(float)
    if family.zero_inflated:
        count = sample_response(family.count_family, eta, rng,
                                params={k: v[..., 0] for k, v in params.items()})
        structural = rng.random(eta.shape) < special.expit(zeta)
        return np.where(structural, 0.0, count)
    mu = family.link.inverse(eta)

    def need(key):
        if key not in params:
            raise FamilyError(f"simulating the {name} family needs {key}")
        return params[key]

    if name in ("gaussian", "lognormal"):
        sd = need("sigma") / (1.0 if weights is None else np.sqrt(weights))
        z = rng.normal(mu, sd)
        return np.exp(z) if name == "lognormal" else z
    if name == "bernoulli":
        return (rng.random(eta.shape) < mu).astype(float)
    if name == "binomial":
        n = np.ones(eta.shape[-1]) if trials is None else np.asarray(trials)
        return rng.binomial(np.broadcast_to(n, eta.shape).astype(np.int64), mu).astype(float)
    if name == "poisson":
        return rng.poisson(mu).astype(float)
    if name == "negbinomial":
        phi = need("phi")
        return rng.poisson(rng.gamma(phi, mu / phi)).astype(float)
    if name == "negbinomial1":
        phi = need("phi")
        return rng.poisson(rng.gamma(mu / phi, phi)).astype(float)
    if name == "gamma":
        phi = need("phi")
        return rng.gamma(phi, mu / phi)
    if name == "beta":
        phi = need("phi")
        return rng.beta(mu * phi, (1.0 - mu) * phi)
    if name == "student_t":
        return mu + need("sigma") * rng.standard_t(np.broadcast_to(need("nu"), eta.shape))
    raise FamilyError(f"no random generator for the {name} family")
