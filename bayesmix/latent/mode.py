"""The conditional mode of the field on the sparse factor (PIRLS) for non-Gaussian families.

At fixed θ (and β, when β is held fixed), Newton / Fisher scoring on

    F(u, β) = Σ f_i(η_i) + ½‖u‖² + ½(β − μ₀)ᵀ diag(prec) (β − μ₀),   η = o + Xβ + ZΛ_θ u,

with f_i the families' row terms (:func:`bayesmix.families.kernels.row_terms`) and weights
w_i = h_i: each step solves

    (ΛᵀZᵀWZΛ + I) δu = ΛᵀZᵀs − u                                        (β fixed)
    [[ΛᵀZᵀWZΛ + I, ΛᵀZᵀWX], [XᵀWZΛ, XᵀWX + prec]] (δu, δβ) = (ΛᵀZᵀs − u, Xᵀs − prec (β − μ₀))

(s the scores −∂f/∂η) through the state's factor, β by block elimination (:mod:`.pls`), inside
the one Newton loop of :mod:`.newton`. The factor is left at the weights of the mode, so its
log-determinant is the ldL2 of the Laplace approximation and its solves give the conditional
covariance of u (:mod:`.gaussian`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ..families import kernels as fk
from ._row_pass import eta_terms
from .field import FieldState
from .newton import newton
from .pls import BetaPrior, fixed_part, solve_L_with_x

__all__ = ["Mode", "conditional_mode"]


@dataclass(frozen=True, eq=False)
class Mode:
    """The conditional mode at one θ.

    Attributes
    ----------
    u, beta, eta : ndarray
        Spherical random effects, fixed effects and linear predictor at the mode.
    loglik : float
        Σ w_i log p(y_i | η̂_i), constants included.
    ussq : float
        ‖û‖².
    bpen : float
        (β̂ − μ₀)ᵀ diag(prec) (β̂ − μ₀) (0 when β is fixed or flat).
    ldL2 : float
        log|ΛᵀZᵀWZΛ + I| at the weights of the mode.
    RX, RZX : ndarray or None
        R_X (with the prior precision) and R_ZX of the joint (u, β) system at the mode when
        β is in the field.
    w, score : ndarray
        Information weights (those the factor holds) and scores −∂f/∂η at the mode.
    converged : bool
    iterations : int
    message : str
    """

    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    loglik: float
    ussq: float
    bpen: float
    ldL2: float
    RX: np.ndarray | None
    RZX: np.ndarray | None
    w: np.ndarray
    score: np.ndarray
    converged: bool
    iterations: int
    message: str

    @property
    def laplace(self) -> float:
        """glmer's Laplace deviance −2 log p(y | û, β̂) + ‖û‖² + log|L|²."""
        return -2.0 * self.loglik + self.ussq + self.ldL2

    @property
    def ldRX2(self) -> float:
        """log|R_X|² (0 when β is fixed)."""
        if self.RX is None or self.RX.size == 0:
            return 0.0
        return float(2.0 * np.sum(np.log(np.abs(np.diag(self.RX)))))


class _FactorSystem:
    """The Newton system of :mod:`.newton` on the state's sparse factor; x = (u, β)."""

    def __init__(self, state: FieldState, fixed_beta: bool, prior: BetaPrior | None):
        self.state = state
        # Families whose observed information can be negative in single rows: the Newton
        # steps use it clipped at 0 (H stays ⪰ I, a descent direction).
        self.clip = state.field.family in (fk.NEGBIN1, fk.BETA, fk.STUDENT_T, fk.ZIPOISSON,
                                           fk.ZINEGBIN2)
        self.fixed_beta = fixed_beta
        self.prior = prior
        f = state.field
        self.trials, self.pw = state.kernel_arrays()
        self.eta, self.w, self.score = np.empty(f.n), np.empty(f.n), np.empty(f.n)
        self.F_data = np.inf
        self.RX = self.RZX = None
        self.factored = False  # whether the factor holds the weights of the last point

    def split(self, x):
        q = self.state.field.q
        return x[:q], (self.state.beta if self.fixed_beta else x[q:])

    def evaluate(self, x: np.ndarray) -> float:
        st, f = self.state, self.state.field
        u, beta = self.split(x)
        self.F_data = eta_terms(f.family, f.link, f.y, self.trials, self.pw, st.family_params,
                                st.zl.data, f.structure.indices, f.structure.width, f.X,
                                beta, f.offset, u, self.eta, self.w, self.score)
        self.u, self.beta = u, beta
        self.factored = False
        pen = 0.0 if self.prior is None or self.fixed_beta else self.prior.penalty(beta)
        return self.F_data + 0.5 * float(u @ u) + 0.5 * pen

    def newton_weights(self) -> np.ndarray:
        return np.maximum(self.w, 0.0) if self.clip else self.w

    def direction(self) -> tuple[np.ndarray, float]:
        st, f = self.state, self.state.field
        w = self.newton_weights()
        st.factor.update(st.zl.data, w)
        self.factored = not self.clip or bool(np.all(self.w >= 0))
        rhs_u = st.zl.T @ self.score - self.u
        if self.fixed_beta:
            cu = st.factor.solve_L(rhs_u)
            return st.factor.solve_Lt(cu), float(cu @ cu)
        wX = f.X * w[:, None]
        rhs_b = f.X.T @ self.score
        prec = None
        if self.prior is not None:
            prec = self.prior.prec
            rhs_b = rhs_b - prec * (self.beta - self.prior.mean)
        cu, RZX = solve_L_with_x(st, rhs_u, wX)
        self.RZX, self.RX, cbeta = fixed_part(st, wX, cu, rhs_b, RZX, prec)
        dbeta = solve_triangular(self.RX, cbeta) if f.p else np.zeros(0)
        du = st.factor.solve_Lt(cu - self.RZX @ dbeta)
        return np.concatenate([du, dbeta]), float(cu @ cu + cbeta @ cbeta)


def conditional_mode(state: FieldState, *, fixed_beta: bool, prior: BetaPrior | None = None,
                     tol: float = 1e-20, max_iter: int = 30) -> Mode:
    """The mode of the field at the state's θ, from the state's u (and β).

    Parameters
    ----------
    state : FieldState
        Its u, β (and cutpoints) are the start; u and β end at the mode.
    fixed_beta : bool
        Hold β at ``state.beta`` (glmer's nAGQ = 1) or find it with u (β in the field).
    prior : BetaPrior, optional
        β's Gaussian prior when β is in the field (None: flat).
    tol : float
        Newton decrement at convergence relative to 1 + |F| (see :mod:`.newton`). The
        Laplace approximation's log|L|² is first-order sensitive to an error in u, so the
        default is at the rounding floor of F: the objective is then smooth enough in θ and
        β for finite differences, and no step is spent confirming the floor.
    max_iter : int
    """
    system = _FactorSystem(state, fixed_beta, prior)
    x0 = state.u if fixed_beta else np.concatenate([state.u, state.beta])
    res = newton(system, x0, tol=0.0, rel_tol=tol, max_iter=max_iter, max_halvings=10)
    u, beta = system.split(res.x)
    u, beta = u.copy(), beta.copy()
    state.u, state.beta = u, beta
    field = state.field
    bpen = 0.0 if prior is None or fixed_beta else prior.penalty(beta)
    return Mode(
        u=u, beta=beta, eta=system.eta, loglik=field.const_total - system.F_data,
        ussq=float(u @ u), bpen=bpen,
        ldL2=state.factor.logdet() if system.factored else _refactor_logdet(system),
        RX=None if fixed_beta else system.RX,
        RZX=None if fixed_beta else system.RZX, w=system.w, score=system.score,
        converged=res.converged, iterations=res.iterations, message=res.message,
    )


def _refactor_logdet(system: _FactorSystem) -> float:
    """log|L|² at the last point's observed weights when the loop left the factor elsewhere
    (a non-finite start, a failed line search restored the point after a trial, or clipped
    weights); +inf when ΛᵀZᵀWZΛ + I is not positive definite there (no Laplace
    approximation: the conditional density has no mode)."""
    st = system.state
    w = np.where(np.isfinite(system.w), system.w, 0.0)
    try:
        st.factor.update(st.zl.data, w)
        ld = st.factor.logdet()
    except Exception:  # the factorizations signal an indefinite matrix differently
        ld = np.nan
    if not np.isfinite(ld):
        st.factor.update(st.zl.data, np.maximum(w, 0.0))
        return np.inf
    return ld
