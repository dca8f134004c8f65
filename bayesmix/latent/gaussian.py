"""The Gaussian approximation of the field at its mode, on the sparse factor.

With A = ΛᵀZᵀWZΛ + I = P'LLᵀP (the state's factor at the weights of the mode), the joint
precision of (u, β) (times s⁻², s = σ for the Gaussian family and 1 otherwise) is

    [[A, B], [Bᵀ, C]] = UᵀU,   U = [[LᵀP, R_ZX], [0, R_X]],   B = ΛᵀZᵀWX,

so β | y ~ N(β̂, s² R_X⁻¹R_X⁻ᵀ) and u | β, y ~ N(û − A⁻¹B(β − β̂), s² A⁻¹), with
A⁻¹B = P'L⁻ᵀR_ZX. A draw is β = β̂ + K z_β (K K ᵀ = Cov(β): s R_X⁻¹, or any other
covariance of β the caller trusts more, such as the Hessian over (θ, β) for glmer's nAGQ = 1),
then u = û + L⁻ᵀ(s z_u − R_ZX (β − β̂)): two triangular solves for a block of draws.

The random effects are b = Λ_θ u; per level j of term k, b_kj = T_k u_kj, and their
conditional covariance given β̂ is s² T_k (A⁻¹)_jj T_kᵀ (lme4's ``ranef(condVar = TRUE)``).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from .field import FieldState
from .mode import Mode
from .pls import fixed_part

__all__ = ["joint_factors", "beta_covariance", "draw_field", "b_conditional_sd",
           "b_from_u"]


def joint_factors(state: FieldState, mode: Mode,
                  prec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(R_ZX, R_X) of the joint (u, β) system at the mode (the factor already there)."""
    if mode.RX is not None:
        return mode.RZX, mode.RX
    f = state.field
    RZX, RX, _ = fixed_part(state, f.X * mode.w[:, None], np.zeros(f.q), np.zeros(f.p),
                            prec=prec)
    return RZX, RX


def beta_covariance(RX: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """s² R_X⁻¹R_X⁻ᵀ: Cov(β | y, θ) with u integrated out."""
    if RX.size == 0:
        return np.zeros((0, 0))
    Rinv = solve_triangular(RX, np.eye(RX.shape[0]))
    return scale**2 * (Rinv @ Rinv.T)


# Values per chunk of draws in draw_field (2 MB).
_CHUNK_VALUES = 1 << 18


def draw_field(state: FieldState, u_hat: np.ndarray, beta_hat: np.ndarray,
               RZX: np.ndarray, beta_root: np.ndarray, scale: float, draws: int,
               rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Draws of β and b = Λ_θ u from the Gaussian at the mode, through the state's current
    factor (θ the state's).

    ``beta_root`` is a square root K of Cov(β) (K Kᵀ = Cov(β)). Returns β draws (draws, p)
    and, per random term, b draws (draws, m, r).
    """
    p, q = len(beta_hat), len(u_hat)
    terms = state.field.design.terms
    T = [t.T(state.theta) for t in terms]
    beta = np.empty((draws, p))
    b = [np.empty((draws, t.m, t.r)) for t in terms]
    # In chunks of draws: the working arrays stay small (in cache, no page faults on
    # hundreds of MB of temporaries) and only the results are draws × q.
    chunk = max(1, min(draws, _CHUNK_VALUES // max(q, 1)))
    for start in range(0, draws, chunk):
        c = min(chunk, draws - start)
        z_beta = rng.standard_normal((p, c))
        z_u = rng.standard_normal((q, c))
        dev_beta = beta_root @ z_beta if p else np.zeros((0, c))
        z_u *= scale
        if p:
            z_u -= RZX @ dev_beta
        beta[start:start + c] = (beta_hat[:, None] + dev_beta).T
        u = (u_hat[:, None] + state.factor.solve_Lt(z_u)).T
        for t, Tk, out in zip(terms, T, b):
            uk = u[:, t.z_offset: t.z_offset + t.q].reshape(c, t.m, t.r)
            np.matmul(uk, Tk.T, out=out[start:start + c])
    return beta, b


def b_from_u(design, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
    """b_k = T_k u_k per term: arrays (..., m, r) from u of shape (..., q)."""
    out = []
    for term in design.terms:
        T = term.T(theta)
        uk = u[..., term.z_offset: term.z_offset + term.q]
        uk = uk.reshape(*u.shape[:-1], term.m, term.r)
        out.append(uk @ T.T)
    return out


def b_conditional_sd(design, theta: np.ndarray, inv_blocks: list[np.ndarray],
                     scale: float = 1.0) -> list[np.ndarray]:
    """Conditional SDs of b per term, (m, r): √diag(s² T_k (A⁻¹)_jj T_kᵀ)."""
    out = []
    for term, inv in zip(design.terms, inv_blocks):
        T = term.T(theta)
        cond = scale**2 * np.einsum("ab,jbc,dc->jad", T, inv, T)
        out.append(np.sqrt(np.clip(np.einsum("jaa->ja", cond), 0.0, None)))
    return out
