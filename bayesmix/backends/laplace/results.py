"""Packing a Laplace fit: estimates, conditional SDs, and the Gaussian approximation as idata.

The random effects are b = Λ_θ u, so per level j of term k, b_kj = T_k u_kj; their conditional
covariance at the mode is s² T_k (A⁻¹)_jj T_kᵀ with A = ΛᵀZᵀWZΛ + I and s = σ̂ for the Gaussian
family (1 otherwise): lme4's ``ranef(condVar = TRUE)``, conditional on β̂. The draws stored in
``idata`` come from the joint Gaussian of (β, u) at the mode, whose precision (times s⁻²) is

    [[ΛᵀZᵀWZΛ + I, ΛᵀZᵀWX], [XᵀWZΛ, XᵀWX]] = Uᵀ U,   U = [[LᵀP, R_ZX], [0, R_X]],

so one draw is x = s U⁻¹ z with z standard normal: two triangular solves on the same factor.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from ...results import Estimates, TermEstimate, make_idata, naming
from ...spec import ModelSpec
from . import _family_kernels as fk
from .pirls import glm_kernel
from .state import LaplaceProblem, SolverState

__all__ = ["term_estimates", "draw_latent", "pointwise_loglik", "build_idata",
           "APPROXIMATION"]

APPROXIMATION = (
    "Gaussian approximation at the mode (Laplace): beta and b drawn jointly from their "
    "Gaussian conditional distribution given the estimated covariance parameters; sd_*, "
    "cor_* and sigma are fixed at their estimates (no uncertainty)"
)


def _cor_from_cov(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        cor = cov / np.outer(sd, sd)
    cor[~np.isfinite(cor)] = np.nan
    np.fill_diagonal(cor, 1.0)
    return np.clip(cor, -1.0, 1.0)


def term_estimates(pb: LaplaceProblem, theta: np.ndarray, u: np.ndarray, scale: float,
                   inv_blocks: list[np.ndarray]) -> tuple[TermEstimate, ...]:
    """SDs, correlations, conditional modes and conditional SDs of every term.

    ``scale`` is σ̂ (Gaussian) or 1; ``inv_blocks`` are the diagonal blocks of A⁻¹ per term.
    """
    out = []
    for term, inv in zip(pb.design.terms, inv_blocks):
        T = term.T(theta)
        cov = scale**2 * (T @ T.T)
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        cor = _cor_from_cov(cov) if term.correlated else None
        uk = u[term.z_offset: term.z_offset + term.q].reshape(term.m, term.r)
        b = uk @ T.T
        cond = scale**2 * np.einsum("ab,jbc,dc->jad", T, inv, T)
        b_sd = np.sqrt(np.clip(np.einsum("jaa->ja", cond), 0.0, None))
        out.append(TermEstimate(term.label, sd, cor, b, b_sd))
    return tuple(out)


def draw_latent(state: SolverState, beta: np.ndarray, u: np.ndarray, RZX: np.ndarray,
                RX: np.ndarray, scale: float, draws: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws of (β, u) from the Gaussian at the mode, through the state's current factor.

    Returns arrays of shape (draws, p) and (draws, q).
    """
    p, q = len(beta), len(u)
    z_beta = rng.standard_normal((p, draws))
    z_u = rng.standard_normal((q, draws))
    dev_beta = scale * solve_triangular(RX, z_beta) if p else np.zeros((0, draws))
    dev_u = state.factor.solve_Lt(scale * z_u - RZX @ dev_beta)
    return (beta[:, None] + dev_beta).T, (u[:, None] + dev_u).T


def pointwise_loglik(pb: LaplaceProblem, theta: np.ndarray, sigma: float | None,
                     beta_draws: np.ndarray, u_draws: np.ndarray) -> np.ndarray:
    """log p(yᵢ | βₛ, uₛ) of every row at every draw: shape (draws, n), in one numba pass per
    draw (:func:`~._family_kernels.draws_loglik`)."""
    design = pb.design
    zl = design.Z_Lambda(theta)
    out = np.empty((beta_draws.shape[0], pb.n))
    empty = np.zeros(0)
    if design.family.has_sigma:
        fam, link, trials, pw, sat = 2, 0, empty, pb.weights, empty
    else:
        k = glm_kernel(pb)
        fam, link, trials, pw, sat = k.family, k.link, k.trials, k.pw, k.sat
    fk.draws_loglik(fam, link, pb.y, trials, empty if pw is None else pw, sat,
                    1.0 if sigma is None else float(sigma), zl.data, pb.structure.indices,
                    pb.structure.width, pb.X, pb.offset, np.ascontiguousarray(beta_draws.T),
                    np.ascontiguousarray(u_draws.T), out)
    return out


def build_idata(spec: ModelSpec, state: SolverState, estimates: Estimates,
                beta_draws: np.ndarray, u_draws: np.ndarray, attrs: dict):
    """InferenceData with one chain of draws (shared names), log-likelihood included."""
    pb = state.problem
    design = spec.design
    S = beta_draws.shape[0]
    posterior = {naming.BETA: beta_draws[None]}
    if design.family.has_sigma:
        posterior[naming.SIGMA] = np.full((1, S), estimates.sigma)
    for term, te in zip(design.terms, estimates.terms):
        T = term.T(estimates.theta)
        uk = u_draws[:, term.z_offset: term.z_offset + term.q].reshape(S, term.m, term.r)
        posterior[naming.b_var(term.label)] = (uk @ T.T)[None]
        posterior[naming.sd_var(term.label)] = np.broadcast_to(te.sd, (1, S, term.r)).copy()
        if term.correlated:
            posterior[naming.cor_var(term.label)] = np.broadcast_to(
                te.cor, (1, S, term.r, term.r)).copy()
    loglik = pointwise_loglik(pb, estimates.theta, estimates.sigma, beta_draws, u_draws)
    return make_idata(spec, posterior, backend="laplace", approximation=APPROXIMATION,
                      log_likelihood={naming.Y: loglik[None]}, attrs=attrs)
