"""Pack the MAP solution into the shared result types (Estimates, posterior draws, Fit)."""

from __future__ import annotations

import numpy as np

from ...results import TermEstimate, naming
from ...results.adapter import fixed_hyperparameters, pack
from ...results.estimates import correlation

__all__ = ["term_estimates", "posterior", "pack", "APPROXIMATION"]

APPROXIMATION = (
    "Gaussian at the joint mode (MAP) of (cutpoints, beta, b) with the random-effect "
    "covariance{sigma} held fixed at the given values: x ~ N(mode, H^-1), H the exact Hessian "
    "of the negative log posterior at the mode; sd_*, cor_*{sigma_name} are the fixed values "
    "repeated, not draws{how}"
)


def term_estimates(design, covs, b_hat, b_var) -> tuple[TermEstimate, ...]:
    out = []
    for t, cov, b, var in zip(design.terms, covs, b_hat, b_var):
        out.append(TermEstimate(
            label=t.label, sd=np.sqrt(np.diag(cov)),
            cor=correlation(cov) if t.correlated else None, b=b, b_sd=np.sqrt(var),
        ))
    return tuple(out)


def posterior(spec, est, gam: np.ndarray, b_draws, n_alpha: int, chains: int) -> dict:
    """Shared posterior variables (chain, draw, ...) from draws of γ = (cutpoints, β, ...)
    and of b per term, the covariance held at its given value."""
    design = spec.design
    S = gam.shape[0] // chains
    post = {naming.BETA: gam[:, n_alpha:n_alpha + design.p].reshape(chains, S, design.p)}
    if n_alpha:
        post[naming.CUTPOINTS] = gam[:, :n_alpha].reshape(chains, S, n_alpha)
    for t, b in zip(design.terms, b_draws):
        post[naming.b_var(t.label)] = b.reshape(chains, S, t.m, t.r)
    post.update(fixed_hyperparameters(spec, est, chains, S))
    if est.zi_coef is not None:
        post[naming.BETA_ZI] = np.broadcast_to(est.zi_coef, (chains, S, len(est.zi_coef))).copy()
    return post
