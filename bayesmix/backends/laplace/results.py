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
from .pirls import glm_kernel
from .state import LaplaceProblem, SolverState

__all__ = ["term_estimates", "draw_latent", "build_idata", "APPROXIMATION",
           "MAX_STORED_VALUES"]

APPROXIMATION = (
    "Gaussian approximation at the mode (Laplace): beta and b drawn jointly from their "
    "Gaussian conditional distribution given the estimated covariance parameters; sd_*, "
    "cor_* and sigma are fixed at their estimates (no uncertainty)"
)
# Draws are cut so that draws × (n + q) stays below this many stored numbers (~160 MB); the
# pointwise log-likelihood is computed this many draws × rows at a time.
MAX_STORED_VALUES = 20_000_000
_CHUNK_VALUES = 2_000_000


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


def _pointwise_loglik(pb: LaplaceProblem, kernel, eta: np.ndarray, sigma: float | None):
    """log p(yᵢ | ηᵢ) for η of shape (n, k) (k draws at once); ``kernel`` is the PIRLS family
    kernel (None for the Gaussian family)."""
    if kernel is not None:
        return kernel.pointwise_loglik(eta)
    fam = pb.design.family
    sd = sigma if pb.weights is None else sigma / np.sqrt(pb.weights)[:, None]
    return fam.loglik(pb.y[:, None], eta, None, sd)


def build_idata(spec: ModelSpec, state: SolverState, estimates: Estimates,
                beta_draws: np.ndarray, u_draws: np.ndarray, attrs: dict):
    """InferenceData with one chain of draws (shared names), log-likelihood included."""
    pb = state.problem
    design = spec.design
    S = beta_draws.shape[0]
    zl = design.Z_Lambda(estimates.theta)
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
    loglik = np.empty((1, S, pb.n))
    kernel = None if design.family.has_sigma else glm_kernel(pb)
    chunk = max(1, _CHUNK_VALUES // max(pb.n, 1))
    for s0 in range(0, S, chunk):
        s1 = min(S, s0 + chunk)
        eta = zl @ u_draws[s0:s1].T + pb.X @ beta_draws[s0:s1].T + pb.offset[:, None]
        loglik[0, s0:s1] = _pointwise_loglik(pb, kernel, eta, estimates.sigma).T
    return make_idata(spec, posterior, backend="laplace", approximation=APPROXIMATION,
                      log_likelihood={naming.Y: loglik}, attrs=attrs)
