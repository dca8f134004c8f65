"""Pack the MAP solution into the shared result types (Estimates, FitInfo, InferenceData)."""

from __future__ import annotations

import numpy as np

from ...families.family import ordinal_loglik
from ...results import Estimates, TermEstimate, make_idata, naming
from ...spec import ModelSpec

__all__ = ["term_estimates", "posterior_dict", "pointwise_loglik", "APPROXIMATION",
           "LOGLIK_MAX_VALUES"]

# The pointwise log-likelihood group is written when n × draws stays below this many values
# (80 MB); beyond it the group would dwarf everything else and is left out (attrs say so).
LOGLIK_MAX_VALUES = 10_000_000

APPROXIMATION = (
    "Gaussian at the joint mode (MAP) of (cutpoints, beta, b) with the random-effect "
    "covariance{sigma} held fixed at the given values: x ~ N(mode, H^-1), H the exact Hessian "
    "of the negative log posterior at the mode; sd_*, cor_*{sigma_name} are the fixed values "
    "repeated, not draws{how}"
)


def _cor(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        R = cov / np.outer(sd, sd)
    R[~np.isfinite(R)] = 0.0
    np.fill_diagonal(R, 1.0)
    return R


def term_estimates(design, covs, b_hat, b_var) -> tuple[TermEstimate, ...]:
    out = []
    for t, cov, b, var in zip(design.terms, covs, b_hat, b_var):
        out.append(TermEstimate(
            label=t.label, sd=np.sqrt(np.diag(cov)), cor=_cor(cov) if t.correlated else None,
            b=b, b_sd=np.sqrt(var),
        ))
    return tuple(out)


def posterior_dict(spec: ModelSpec, est: Estimates, gam: np.ndarray, b_draws) -> dict:
    """Shared posterior variables with (chain=1, draw) dims."""
    design = spec.design
    n_draws = gam.shape[0]
    n_alpha = 0 if est.cutpoints is None else len(est.cutpoints)
    post = {naming.BETA: gam[None, :, n_alpha:n_alpha + design.p]}
    if n_alpha:
        post[naming.CUTPOINTS] = gam[None, :, :n_alpha]
    if design.family.has_sigma:
        post[naming.SIGMA] = np.full((1, n_draws), est.sigma)
    for t, te, b in zip(design.terms, est.terms, b_draws):
        post[naming.sd_var(t.label)] = np.broadcast_to(te.sd, (1, n_draws, t.r)).copy()
        if t.correlated:
            post[naming.cor_var(t.label)] = np.broadcast_to(
                te.cor, (1, n_draws, t.r, t.r)).copy()
        post[naming.b_var(t.label)] = b[None]
    return post


def pointwise_loglik(design, gam: np.ndarray, b_draws, n_alpha: int, sigma) -> np.ndarray:
    """log p(y_i | η_i) per draw and row, (1, draws, n), in the design's row order (prior
    weights multiply it, as in the objective; for the gaussian family they scale the
    precision)."""
    fam = design.family
    w = design.weights
    out = np.empty((gam.shape[0], design.n))
    for d in range(gam.shape[0]):
        eta = design.X @ gam[d, n_alpha:n_alpha + design.p]
        if design.offset is not None:
            eta = eta + design.offset
        for t, b in zip(design.terms, b_draws):
            eta += np.einsum("ij,ij->i", t.X, b[d][t.codes])
        if fam.name == "ordinal":
            ll = ordinal_loglik(design.y, eta, gam[d, :n_alpha])
        elif fam.has_sigma:
            s = sigma if w is None else sigma / np.sqrt(w)
            ll = fam.loglik(design.y, eta, sigma=s)
        else:
            ll = fam.loglik(design.y, fam.link.inverse(eta), design.trials)
        if w is not None and not fam.has_sigma:
            ll = ll * w
        out[d] = ll
    return out[None]


def build_idata(spec, est, gam, b_draws, n_alpha, approximation, attrs):
    design = spec.design
    post = posterior_dict(spec, est, gam, b_draws)
    loglik = None
    if design.n * gam.shape[0] <= LOGLIK_MAX_VALUES:
        loglik = {naming.Y: pointwise_loglik(design, gam, b_draws, n_alpha, est.sigma)}
        attrs = {**attrs, "log_likelihood": "pointwise, at every draw"}
    else:
        attrs = {**attrs, "log_likelihood": (
            f"omitted: n × draws = {design.n * gam.shape[0]:,} values exceeds "
            f"{LOGLIK_MAX_VALUES:,}; the log-likelihood at the mode is fit.loglik")}
    return make_idata(spec, post, backend="map", approximation=approximation,
                      log_likelihood=loglik, attrs=attrs)
