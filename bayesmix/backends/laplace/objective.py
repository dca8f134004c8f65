"""The objectives the Laplace backend optimizes, each ``objective(mode(set_theta(state, θ)))``.

- :class:`LmmObjective` (Gaussian): lme4's profiled deviance and REML criterion of the PLS
  solution (:mod:`bayesmix.latent.pls`), with ldL2 = log|L|², ldRX2 = log|R_X|², ldW = Σ log wᵢ:

      ML:    −2ℓ(θ)   = ldL2 − ldW + n (1 + log(2π r²/n))
      REML:  −2ℓ_R(θ) = ldL2 − ldW + ldRX2 + (n − p)(1 + log(2π r²/(n − p)))

  (the REML criterion is −2 log of the likelihood with β integrated out under a flat prior
  and σ profiled); σ̂² = r²/n (ML) or r²/(n − p) (REML).
- :class:`GlmmObjective` (other families): glmer's Laplace deviance
  −2 Σ wᵢ log p(yᵢ | η̂ᵢ) + ‖û‖² + log|L|² at the conditional mode
  (:func:`bayesmix.latent.conditional_mode`); nAGQ = 1 over x = (θ, β, α) (α: ordinal
  thresholds) with β, α held fixed in the mode, nAGQ = 0 over θ with β in the mode.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ...errors import DataError
from ...latent import FieldState, conditional_mode, set_theta, set_zero_inflation, solve_pls
from ...latent.mode import Mode
from ...latent.pls import PLSSolution

__all__ = ["lmm_deviance", "LmmObjective", "GlmmObjective"]


def lmm_deviance(sol: PLSSolution, n: int, p: int, reml: bool, ldW: float = 0.0,
                 extra_dof: int = 0) -> float:
    """lme4's profiled deviance (ML) or REML criterion at a PLS solution (``extra_dof``: more
    powers of σ² in the objective, as a normal prior on β on σ's scale adds p)."""
    dof = (n - p if reml else n) + extra_dof
    value = sol.ldL2 - ldW + dof * (1.0 + np.log(2.0 * np.pi * sol.pwrss / dof))
    return float(value + sol.ldRX2) if reml else float(value)


def factorization_breakdown(design) -> DataError:
    """The error for a sparse factorization that met a zero pivot: in exact arithmetic
    ΛᵀZᵀWZΛ + I is positive definite, so the cause is the scale of the columns."""
    scales = {}
    for t in design.terms:
        for c, col in enumerate(t.columns):
            scales[f"{col} ({t.label})"] = float(np.max(np.abs(t.X[:, c]))) if t.X.size else 0
    worst = max(scales, key=scales.get) if scales else None
    detail = f" (largest: {worst} up to {scales[worst]:.3g})" if worst else ""
    return DataError(
        "the sparse Cholesky factorization of ΛᵀZᵀWZΛ + I broke down (a zero pivot in "
        f"floating point): the random-effect columns are on extreme scales{detail}; "
        "rescale them (e.g. scale(x), or change units) so their values are of order 1")


class _AnalyticObjective:
    """What the LMM and GLMM objectives share for the Newton path: the value and the
    analytic gradient from one evaluation, and how θ enters ZΛ, built once per objective.
    Subclasses define ``__call__`` (which leaves the state at x) and ``gradient()``."""

    state: FieldState

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The objective and its analytic gradient at ``x``."""
        value = self(x)
        return value, self.gradient()

    @cached_property
    def _theta_maps(self):
        from .gradient import theta_maps

        return theta_maps(self.state.field.design)


class LmmObjective(_AnalyticObjective):
    """θ ↦ −2ℓ(θ) (ML) or −2ℓ_R(θ) (REML) for the Gaussian family.

    Each call moves the state to θ; :attr:`last` is the latest PLS solution. ``ridge`` adds
    a Gaussian prior on β on σ's scale to the penalized least squares, with its ``extra_dof``
    powers of σ² (blme's normal prior with a common scale: p).
    """

    def __init__(self, state: FieldState, reml: bool, ridge=None, extra_dof: int = 0):
        self.state = state
        self.reml = reml
        self.ridge = ridge
        self.extra_dof = extra_dof
        self.last: PLSSolution | None = None

    def __call__(self, theta: np.ndarray) -> float:
        try:
            self.last = solve_pls(set_theta(self.state, theta), self.ridge)
        except ZeroDivisionError:
            raise factorization_breakdown(self.state.field.design) from None
        self.state.evaluations += 1
        f = self.state.field
        return lmm_deviance(self.last, f.n, f.p, self.reml, f.log_weights_sum,
                            self.extra_dof)

    def gradient(self) -> np.ndarray:
        """The analytic gradient at the latest evaluation (the state's factor is there)."""
        from .gradient import lmm_gradient

        return lmm_gradient(self.state, self.last, self.reml, self._theta_maps)

    def derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and average-information Hessian at the latest evaluation."""
        from .information import boundary_curvature, lmm_information

        grad = self.gradient()
        H = lmm_information(self.state, self.last, self.reml, self._theta_maps)
        design = self.state.field.design
        return boundary_curvature(self.state.theta, np.isfinite(design.theta_lower), grad, H)

    def sigma(self, sol: PLSSolution | None = None) -> float:
        """σ̂ at a solution (the latest by default)."""
        sol = sol or self.last
        f = self.state.field
        dof = (f.n - f.p if self.reml else f.n) + self.extra_dof
        return float(np.sqrt(sol.pwrss / dof))


class GlmmObjective(_AnalyticObjective):
    """The Laplace deviance for the optimizer.

    ``nagq=1``: x = (θ, β, α, γ) ↦ −2 log p̃(y | θ, β, α, γ), the mode over u only (glmer's
    nAGQ = 1; α: the row kernel's parameters — ordinal thresholds, the family's φ, σ, ν —
    γ: the zero-inflation coefficients; each absent where the model has none).
    ``nagq=0``: x = (θ, α, γ) ↦ the same deviance with β̂ from the mode (glmer's nAGQ = 0).
    ``nagq=k > 1``: as ``nagq=1``, the deviance by adaptive Gauss–Hermite quadrature with k
    nodes (:mod:`.quadrature`; one scalar random term).
    Each call warm-starts from the previous mode; :attr:`last` is the latest mode.
    """

    def __init__(self, state: FieldState, nagq: int, tol: float = 1e-20,
                 max_iter: int = 30):
        self.state = state
        self.nagq = nagq
        self.quadrature = None
        if nagq > 1:
            from .quadrature import Quadrature

            self.quadrature = Quadrature(nagq)
        self.tol = tol
        self.max_iter = max_iter
        self.n_theta = len(state.theta)
        self.n_zi = 0 if state.zi_coef is None else len(state.zi_coef)
        self.last: Mode | None = None
        self.last_x: np.ndarray | None = None
        self.last_value = np.inf
        self.failures = 0

    def gradient(self) -> np.ndarray:
        """∂F/∂(θ, β) at the latest evaluation (nAGQ = 1, canonical links)."""
        from .gradient import laplace_gradient

        g_theta, g_beta = laplace_gradient(self.state, self.last, self._theta_maps)
        return np.concatenate([g_theta, g_beta])

    def derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and average-information Hessian over (θ, β) at the latest evaluation."""
        from .information import boundary_curvature, glmm_information

        grad = self.gradient()
        H = glmm_information(self.state, self.last, self._theta_maps)
        design = self.state.field.design
        diagonal = np.zeros(len(grad), dtype=bool)
        diagonal[: self.n_theta] = np.isfinite(design.theta_lower)
        return boundary_curvature(self.state.theta, diagonal, grad, H)

    def _mode(self) -> Mode:
        return conditional_mode(self.state, fixed_beta=self.nagq >= 1, tol=self.tol,
                                max_iter=self.max_iter)

    def __call__(self, x: np.ndarray) -> float:
        state = self.state
        x = np.asarray(x, dtype=float)
        set_theta(state, x[: self.n_theta])
        tail = x[self.n_theta:]
        if self.nagq >= 1:
            p = state.field.p
            state.beta = tail[:p].copy()
            tail = tail[p:]
        if self.n_zi:
            set_zero_inflation(state, tail[len(tail) - self.n_zi:])
            tail = tail[:len(tail) - self.n_zi]
        if self.nagq >= 1 or len(tail):
            state.family_params = tail.copy()
        try:
            res = self._mode()
        except ZeroDivisionError:
            raise factorization_breakdown(state.field.design) from None
        if not res.converged:
            # A bad warm start (after a far jump of the optimizer): restart from u = 0.
            state.u = np.zeros_like(state.u)
            res = self._mode()
            self.failures += not res.converged
        state.evaluations += 1
        self.last, self.last_x = res, x.copy()
        value = res.laplace
        if self.quadrature is not None and np.isfinite(value):
            value = -2.0 * self.quadrature.loglik(state, res)
        self.last_value = value if np.isfinite(value) else np.inf
        return self.last_value
