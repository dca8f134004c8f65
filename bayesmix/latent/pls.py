"""Penalized least squares: the exact mode of the field for the Gaussian family.

At fixed θ, (β̂, û) minimise the penalized weighted residual sum of squares

    r²(θ) = ‖W^½(y − o − Xβ − ZΛ_θ u)‖² + ‖u‖² + (β − μ₀)ᵀ P (β − μ₀),

(P = σ² × the prior precision of β: 0 for lme4's flat prior), solved through the blocked
Cholesky factor (Bates et al. 2015, §3)

    L Lᵀ = P(ΛᵀZᵀWZΛ + I)Pᵀ,   L R_ZX = PΛᵀZᵀWX,   R_XᵀR_X = XᵀWX + P − R_ZXᵀR_ZX.

The factor holds the weights of the rows; σ enters only through P, so the same factor serves
every σ at one θ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from .field import FieldState

__all__ = ["PLSSolution", "BetaPrior", "solve_pls", "fixed_part", "solve_L_with_x"]


@dataclass(frozen=True, eq=False)
class BetaPrior:
    """A Gaussian prior N(mean, diag(1/prec)) on β; prec = 0 entries are flat."""

    mean: np.ndarray
    prec: np.ndarray

    def penalty(self, beta: np.ndarray) -> float:
        d = beta - self.mean
        return float(np.sum(self.prec * d * d))

    def scaled(self, factor: float) -> "BetaPrior":
        return BetaPrior(self.mean, self.prec * factor)


@dataclass(frozen=True, eq=False)
class PLSSolution:
    """The PLS solution at one θ (the numeric factor stays in the state).

    Attributes
    ----------
    theta, beta, u : ndarray
    wrss : float
        ‖W^½(y − o − Xβ̂ − ZΛû)‖².
    ussq : float
        ‖û‖².
    bpen : float
        (β̂ − μ₀)ᵀP(β̂ − μ₀) (0 without a prior on β).
    ldL2, ldRX2 : float
        log|L|² and log|R_X|².
    RX : ndarray (p, p)
        Upper-triangular R_X.
    RZX : ndarray (q, p)
        R_ZX = L⁻¹PΛᵀZᵀWX.
    """

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    wrss: float
    ussq: float
    bpen: float
    ldL2: float
    ldRX2: float
    RX: np.ndarray
    RZX: np.ndarray

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares r²."""
        return self.wrss + self.ussq + self.bpen


def solve_L_with_x(state: FieldState, rhs_u: np.ndarray, wX: np.ndarray):
    """(L⁻¹P rhs_u, L⁻¹PΛᵀZᵀWX) with one multi-column solve (c_u and R_ZX)."""
    both = state.factor.solve_L(np.column_stack([rhs_u, state.zl.T @ wX]))
    return both[:, 0], np.ascontiguousarray(both[:, 1:])


def fixed_part(state: FieldState, wX: np.ndarray, cu: np.ndarray, xty: np.ndarray,
               RZX: np.ndarray | None = None, prec: np.ndarray | None = None):
    """R_ZX, R_X and c_β of the blocked system, given c_u = L⁻¹PΛᵀZᵀW·(response) (and R_ZX
    when already solved for, see :func:`solve_L_with_x`).

    Parameters
    ----------
    state : FieldState
        With the factor updated at the current θ and weights.
    wX : ndarray (n, p)
        W X.
    cu : ndarray (q,)
    xty : ndarray (p,)
        Xᵀ W (response) (plus the prior's P μ₀).
    prec : ndarray (p,), optional
        Diagonal added to XᵀWX (the prior precision of β).

    Returns
    -------
    RZX : ndarray (q, p)
    RX : ndarray (p, p), upper triangular
    cbeta : ndarray (p,)
    """
    field = state.field
    if RZX is None:
        RZX = state.factor.solve_L(state.zl.T @ wX)
    if field.p == 0:
        return RZX, np.zeros((0, 0)), np.zeros(0)
    M = field.X.T @ wX - RZX.T @ RZX
    if prec is not None:
        M[np.diag_indices_from(M)] += prec
    RX = np.linalg.cholesky(M).T
    cbeta = solve_triangular(RX, xty - RZX.T @ cu, trans="T")
    return RZX, RX, cbeta


def solve_pls(state: FieldState, prior: BetaPrior | None = None) -> PLSSolution:
    """Factor at the state's θ and solve the PLS problem for β̂ and û.

    ``prior`` is β's Gaussian prior in the units of the penalized RSS (σ² × its precision).
    """
    field = state.field
    w = field.weights
    response = field.y - field.offset
    state.factor.update(state.zl.data, w)
    wX = field.X if w is None else field.X * w[:, None]
    wy = response if w is None else response * w
    xty = field.X.T @ wy
    prec = None
    if prior is not None:
        prec = prior.prec
        xty = xty + prior.prec * prior.mean
    cu, RZX = solve_L_with_x(state, state.zl.T @ wy, wX)
    RZX, RX, cbeta = fixed_part(state, wX, cu, xty, RZX, prec)
    beta = solve_triangular(RX, cbeta) if field.p else np.zeros(0)
    u = state.factor.solve_Lt(cu - RZX @ beta)
    resid = response - field.X @ beta - state.zl @ u
    wrss = float(resid @ (resid if w is None else w * resid))
    ldRX2 = float(2.0 * np.sum(np.log(np.abs(np.diag(RX))))) if field.p else 0.0
    state.u, state.beta = u, beta
    bpen = prior.penalty(beta) if prior is not None else 0.0
    return PLSSolution(state.theta.copy(), beta, u, wrss, float(u @ u), bpen,
                       state.factor.logdet(), ldRX2, RX, RZX)
