"""Penalized least squares for the linear mixed model: lme4's profiled deviance and REML.

At fixed θ, (β̂, û) minimise the penalized weighted residual sum of squares

    r²(θ) = ‖W^½(y − o − Xβ − ZΛ_θ u)‖² + ‖u‖²,

solved through the blocked Cholesky factor (Bates et al. 2015, §3)

    L Lᵀ = P(ΛᵀZᵀWZΛ + I)Pᵀ,   L R_ZX = PΛᵀZᵀWX,   R_XᵀR_X = XᵀWX − R_ZXᵀR_ZX,

and the objectives are, with ldL2 = log|L|², ldRX2 = log|R_X|², ldW = Σ log wᵢ:

    ML:    −2ℓ(θ)   = ldL2 − ldW + n (1 + log(2π r²/n))
    REML:  −2ℓ_R(θ) = ldL2 − ldW + ldRX2 + (n − p)(1 + log(2π r²/(n − p)))

(the REML criterion is −2 log of the likelihood with β integrated out under a flat prior and σ
profiled). σ̂² = r²/n (ML) or r²/(n − p) (REML).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.linalg import solve_triangular

from .state import SolverState, set_theta

__all__ = ["PLSSolution", "solve_pls", "lmm_deviance", "LmmObjective", "fixed_part",
           "solve_L_with_x"]


@dataclass(frozen=True, eq=False)
class PLSSolution:
    """The PLS solution at one θ (the numeric factor stays in the solver state).

    Attributes
    ----------
    theta, beta, u : ndarray
    wrss : float
        ‖W^½(y − o − Xβ̂ − ZΛû)‖².
    ussq : float
        ‖û‖².
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
    ldL2: float
    ldRX2: float
    RX: np.ndarray
    RZX: np.ndarray

    @property
    def pwrss(self) -> float:
        """Penalized weighted residual sum of squares r²."""
        return self.wrss + self.ussq


def solve_L_with_x(state: SolverState, rhs_u: np.ndarray, wX: np.ndarray):
    """(L⁻¹P rhs_u, L⁻¹PΛᵀZᵀWX) with one multi-column solve (c_u and R_ZX)."""
    both = state.factor.solve_L(np.column_stack([rhs_u, state.zl.T @ wX]))
    return both[:, 0], np.ascontiguousarray(both[:, 1:])


def fixed_part(state: SolverState, wX: np.ndarray, cu: np.ndarray, xty: np.ndarray,
               RZX: np.ndarray | None = None):
    """R_ZX, R_X and c_β of the blocked system, given c_u = L⁻¹PΛᵀZᵀW·(response) (and R_ZX
    when already solved for, see :func:`solve_L_with_x`).

    Parameters
    ----------
    state : SolverState
        With the factor updated at the current θ and weights.
    wX : ndarray (n, p)
        W X.
    cu : ndarray (q,)
    xty : ndarray (p,)
        Xᵀ W (response).

    Returns
    -------
    RZX : ndarray (q, p)
    RX : ndarray (p, p), upper triangular
    cbeta : ndarray (p,)
    """
    pb = state.problem
    if RZX is None:
        RZX = state.factor.solve_L(state.zl.T @ wX)
    if pb.p == 0:
        return RZX, np.zeros((0, 0)), np.zeros(0)
    M = pb.X.T @ wX - RZX.T @ RZX
    RX = np.linalg.cholesky(M).T
    cbeta = solve_triangular(RX, xty - RZX.T @ cu, trans="T")
    return RZX, RX, cbeta


def solve_pls(state: SolverState) -> PLSSolution:
    """Factor at the state's θ and solve the PLS problem for β̂ and û."""
    pb = state.problem
    w = pb.weights
    response = pb.y - pb.offset
    state.factor.update(state.zl.data, w)
    wX = pb.X if w is None else pb.X * w[:, None]
    wy = response if w is None else response * w
    cu, RZX = solve_L_with_x(state, state.zl.T @ wy, wX)
    RZX, RX, cbeta = fixed_part(state, wX, cu, pb.X.T @ wy, RZX)
    beta = solve_triangular(RX, cbeta) if pb.p else np.zeros(0)
    u = state.factor.solve_Lt(cu - RZX @ beta)
    resid = response - pb.X @ beta - state.zl @ u
    wrss = float(resid @ (resid if w is None else w * resid))
    ldRX2 = float(2.0 * np.sum(np.log(np.abs(np.diag(RX))))) if pb.p else 0.0
    state.u, state.beta = u, beta
    return PLSSolution(state.theta.copy(), beta, u, wrss, float(u @ u),
                       state.factor.logdet(), ldRX2, RX, RZX)


def lmm_deviance(sol: PLSSolution, n: int, p: int, reml: bool, ldW: float = 0.0) -> float:
    """lme4's profiled deviance (ML) or REML criterion at a PLS solution."""
    dof = n - p if reml else n
    value = sol.ldL2 - ldW + dof * (1.0 + np.log(2.0 * np.pi * sol.pwrss / dof))
    return float(value + sol.ldRX2) if reml else float(value)


class AnalyticObjective:
    """What the LMM and GLMM objectives share for the Newton path: the value and the
    analytic gradient from one evaluation, and how θ enters ZΛ, built once per objective.
    Subclasses define ``__call__`` (which leaves the state at x) and ``gradient()``."""

    state: SolverState

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The objective and its analytic gradient at ``x``."""
        value = self(x)
        return value, self.gradient()

    @cached_property
    def _theta_maps(self):
        from .gradient import theta_maps

        return theta_maps(self.state.problem.design)


class LmmObjective(AnalyticObjective):
    """θ ↦ −2ℓ(θ) (ML) or −2ℓ_R(θ) (REML) for the Gaussian family.

    Each call moves the solver state to θ; :attr:`last` is the latest PLS solution.
    """

    def __init__(self, state: SolverState, reml: bool):
        self.state = state
        self.reml = reml
        self.last: PLSSolution | None = None

    def __call__(self, theta: np.ndarray) -> float:
        self.last = solve_pls(set_theta(self.state, theta))
        self.state.evaluations += 1
        pb = self.state.problem
        return lmm_deviance(self.last, pb.n, pb.p, self.reml, pb.log_weights_sum)

    def gradient(self) -> np.ndarray:
        """The analytic gradient at the latest evaluation (the state's factor is there)."""
        from .gradient import lmm_gradient

        return lmm_gradient(self.state, self.last, self.reml, self._theta_maps)

    def derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and average-information Hessian at the latest evaluation."""
        from .information import boundary_curvature, lmm_information

        grad = self.gradient()
        H = lmm_information(self.state, self.last, self.reml, self._theta_maps)
        design = self.state.problem.design
        return boundary_curvature(self.state.theta, np.isfinite(design.theta_lower), grad, H)

    def sigma(self, sol: PLSSolution | None = None) -> float:
        """σ̂ at a solution (the latest by default)."""
        sol = sol or self.last
        pb = self.state.problem
        return float(np.sqrt(sol.pwrss / (pb.n - pb.p if self.reml else pb.n)))
