"""Penalized iteratively reweighted least squares and the Laplace deviance (glmer's algorithm).

At fixed θ (and β, for nAGQ = 1) PIRLS finds the conditional mode û of the spherical random
effects by Fisher scoring on the penalized deviance d(y, μ(u)) + ‖u‖²: with working weights
wᵢ = pwᵢ (dμᵢ/dη)²/V(μᵢ) and working residuals rᵢ = (yᵢ − μᵢ)/(dμᵢ/dη), each step solves

    (ΛᵀZᵀWZΛ + I) δ = ΛᵀZᵀW r − u

through the sparse factor (for nAGQ = 0, β joins the system as in the Gaussian PLS), halving
the step while the penalized deviance rises. It stops when the Newton decrement δᵀ(…)δ falls
below ``tol`` × (1 + penalized deviance) (default 1e-20: the objective is then accurate to
rounding and smooth enough in θ and β for finite-difference Hessians). The Laplace deviance
(lme4's objective, −2 log-likelihood) is

    −2 Σ pwᵢ log p(yᵢ | μ̂ᵢ) + ‖û‖² + log|L|²,

with the factor L taken at the weights of û and R's normalising constants in log p.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ...errors import FamilyError
from . import _family_kernels as fk
from .pls import AnalyticObjective, fixed_part, solve_L_with_x
from .state import LaplaceProblem, SolverState, set_theta

__all__ = ["PirlsResult", "GlmKernel", "glm_kernel", "pirls", "glm_start",
           "GlmmObjective"]

_MAX_HALVINGS = 10


@dataclass(frozen=True, eq=False)
class PirlsResult:
    """The conditional mode at one θ (and β).

    Attributes
    ----------
    u, beta, eta, mu : ndarray
        Spherical random effects, fixed effects, linear predictor and mean (probability for
        binomial) at the mode.
    deviance : float
        Σ pwᵢ d(yᵢ, μ̂ᵢ).
    loglik : float
        Σ pwᵢ log p(yᵢ | μ̂ᵢ) with R's constants.
    ussq, ldL2 : float
        ‖û‖² and log|L|² at the weights of û.
    RX : ndarray or None
        R_X of the joint (u, β) system at the mode (nAGQ = 0 only).
    iterations : int
    converged : bool
    w, score : ndarray
        Working weights (those the factor holds) and scores ∂ℓ/∂η at the mode.
    """

    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    loglik: float
    ussq: float
    ldL2: float
    RX: np.ndarray | None
    iterations: int
    converged: bool
    w: np.ndarray
    score: np.ndarray

    @property
    def laplace(self) -> float:
        """The Laplace deviance −2 log p̃(y | θ, β)."""
        return -2.0 * self.loglik + self.ussq + self.ldL2


@dataclass(frozen=True, eq=False)
class GlmKernel:
    """Per-problem inputs of the numba family kernels (codes, trials, weights, and the
    saturated log-likelihood ``sat`` of each row, with its weighted sum ``sat_total``)."""

    family: int
    link: int
    y: np.ndarray
    trials: np.ndarray
    pw: np.ndarray
    sat: np.ndarray
    sat_total: float

    def working(self, eta, mu, w, wr) -> float:
        """Fill μ, w, wr at η; return Σ pw·d(y, μ)."""
        return fk.working(self.family, self.link, self.y, self.trials, self.pw, eta, mu, w,
                          wr)

    def eta_working(self, state: SolverState, u, beta, eta, mu, w, wr) -> float:
        """η = offset + Xβ + ZΛu and :meth:`working` there, in one pass."""
        pb = state.problem
        return fk.eta_working(self.family, self.link, self.y, self.trials, self.pw,
                              state.zl.data, pb.structure.indices, pb.structure.width, pb.X,
                              beta, pb.offset, u, eta, mu, w, wr)

    def loglik(self, deviance: float) -> float:
        """Σ pw·log p(y | μ) from Σ pw·d(y, μ) at the same μ."""
        return self.sat_total - 0.5 * deviance

    def pointwise_loglik(self, eta: np.ndarray) -> np.ndarray:
        """pw·log p(yᵢ | μ(η_ij)) for η of shape (n, k)."""
        out = np.empty(eta.shape)
        fk.unit_loglik(self.family, self.link, self.y, self.trials, self.pw, self.sat,
                       np.ascontiguousarray(eta), out)
        return out


_KERNELS: "weakref.WeakKeyDictionary[LaplaceProblem, GlmKernel]" = weakref.WeakKeyDictionary()


def glm_kernel(pb: LaplaceProblem) -> GlmKernel:
    """The family kernel of a problem (binomial / bernoulli / poisson), built once per
    problem (the saturated log-likelihood costs a few special-function passes)."""
    if pb not in _KERNELS:
        _KERNELS[pb] = _make_kernel(pb)
    return _KERNELS[pb]


def _make_kernel(pb: LaplaceProblem) -> GlmKernel:
    fam = pb.design.family
    if fam.name not in fk.FAMILY_CODES or fam.link.name not in fk.LINK_CODES:
        raise FamilyError(f"PIRLS does not handle the {fam.name} family with the "
                          f"{fam.link.name} link")
    code = fk.FAMILY_CODES[fam.name]
    empty = np.zeros(0)
    sat = fk.saturated_loglik(code, pb.y, pb.trials)
    total = float(np.sum(sat if pb.weights is None else pb.weights * sat))
    return GlmKernel(code, fk.LINK_CODES[fam.link.name], pb.y,
                     empty if pb.trials is None else pb.trials,
                     empty if pb.weights is None else pb.weights, sat, total)


def pirls(state: SolverState, kernel: GlmKernel, with_beta: bool, tol: float = 1e-20,
          max_iter: int = 30) -> PirlsResult:
    """Conditional mode û (and β̂ when ``with_beta``) at the state's θ, from the state's u, β.

    The state's factor is left at the weights of the mode, so its ``logdet`` is the ldL2 of
    the Laplace deviance and its solves give the conditional covariance of u. Each trial
    point of the step halving computes η, μ, the working weights and the deviance in one pass
    (:func:`~._family_kernels.eta_working`): an accepted step needs no second pass.
    """
    pb = state.problem
    factor = state.factor
    n = pb.n
    cur = [np.empty(n) for _ in range(4)]  # η, μ, w, score at u
    new = [np.empty(n) for _ in range(4)]  # the same at a trial point
    u, beta = state.u.copy(), state.beta.copy()
    dev = kernel.eta_working(state, u, beta, *cur)
    pdev = dev + u @ u
    converged = False
    RX = None
    iterations = 0
    last_decrement = np.inf
    for iterations in range(1, max_iter + 1):
        eta, mu, w, wr = cur
        factor.update(state.zl.data, w)
        if with_beta:
            wX = pb.X * w[:, None]
            cu, RZX = solve_L_with_x(state, state.zl.T @ wr - u, wX)
            RZX, RX, cbeta = fixed_part(state, wX, cu, pb.X.T @ wr, RZX)
            dbeta = solve_triangular(RX, cbeta) if pb.p else np.zeros(0)
            du = factor.solve_Lt(cu - RZX @ dbeta)
            decrement = cu @ cu + cbeta @ cbeta
        else:
            cu = factor.solve_L(state.zl.T @ wr - u)
            du = factor.solve_Lt(cu)
            dbeta = np.zeros_like(beta)
            decrement = cu @ cu
        # The Laplace deviance's log|L|² is first-order sensitive to an error in u, so u
        # must be converged tightly (δ ~ 1e-10) for the objective to be smooth enough for
        # finite differences. Quadratic convergence makes that one more step at most; a
        # decrement that stops shrinking at a tiny value is the rounding floor.
        scale = 1.0 + abs(pdev)
        if decrement < tol * scale or (decrement < 1e-10 * scale
                                       and decrement > 0.25 * last_decrement):
            converged = True
            break
        last_decrement = decrement
        step = 1.0
        for _ in range(_MAX_HALVINGS + 1):
            u_new, beta_new = u + step * du, beta + step * dbeta
            dev_new = kernel.eta_working(state, u_new, beta_new, *new)
            pdev_new = dev_new + u_new @ u_new
            if np.isfinite(pdev_new) and pdev_new <= pdev + 1e-10 * abs(pdev):
                break
            step /= 2.0
        else:
            break  # no decrease along the Newton direction: stop, not converged
        u, beta, dev, pdev = u_new, beta_new, dev_new, pdev_new
        cur, new = new, cur
    eta, mu, w, wr = cur
    ussq = float(u @ u)
    return PirlsResult(u, beta, eta, mu, dev, kernel.loglik(dev), ussq,
                       factor.logdet(), RX, iterations, converged, w, wr)


def glm_start(pb: LaplaceProblem, max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """β of the GLM without random effects (IRLS from R's starting values), glmer's start.

    Each IRLS step solves the p × p normal equations XᵀWX β = XᵀWz (p is small; a
    least-squares solve of the n × p system cost 10× more at a million rows).
    """
    kernel = glm_kernel(pb)
    fam = pb.design.family
    n = 1.0 if pb.trials is None else pb.trials
    mu0 = pb.y + 0.1 if fam.name == "poisson" else (pb.y + 0.5) / (n + 1.0)
    eta = fam.link.link(mu0)
    mu, w, wr = np.empty(pb.n), np.empty(pb.n), np.empty(pb.n)
    beta = np.zeros(pb.p)
    dev_old = np.inf
    for _ in range(max_iter):
        dev = kernel.working(eta, mu, w, wr)
        if abs(dev - dev_old) < tol * (abs(dev) + 0.1):
            break
        dev_old = dev
        z = eta - pb.offset + wr / w
        XtW = pb.X.T * w
        try:
            beta = np.linalg.solve(XtW @ pb.X, XtW @ z)
        except np.linalg.LinAlgError:
            sw = np.sqrt(w)
            beta = np.linalg.lstsq(pb.X * sw[:, None], z * sw, rcond=None)[0]
        eta = pb.X @ beta + pb.offset
    return beta


class GlmmObjective(AnalyticObjective):
    """The Laplace deviance for the optimizer.

    ``nagq=1``: x = (θ, β) ↦ −2 log p̃(y | θ, β), PIRLS over u only (glmer's nAGQ = 1).
    ``nagq=0``: x = θ ↦ the same deviance with β̂ from PIRLS (glmer's nAGQ = 0).
    Each call warm-starts PIRLS from the previous mode; :attr:`last` is the latest result.
    """

    def __init__(self, state: SolverState, nagq: int, tol: float = 1e-20,
                 max_iter: int = 30):
        self.state = state
        self.kernel = glm_kernel(state.problem)
        self.nagq = nagq
        self.tol = tol
        self.max_iter = max_iter
        self.n_theta = len(state.theta)
        self.last: PirlsResult | None = None
        self.last_x: np.ndarray | None = None
        self.last_value = np.inf
        self.pirls_failures = 0

    def gradient(self) -> np.ndarray:
        """∂F/∂(θ, β) at the latest evaluation (nAGQ = 1, canonical links)."""
        from .gradient import laplace_gradient

        g_theta, g_beta = laplace_gradient(self.state, self.kernel, self.last,
                                           self._theta_maps)
        return np.concatenate([g_theta, g_beta])

    def derivatives(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and average-information Hessian over (θ, β) at the latest evaluation."""
        from .information import boundary_curvature, glmm_information

        grad = self.gradient()
        H = glmm_information(self.state, self.last, self._theta_maps)
        design = self.state.problem.design
        diagonal = np.zeros(len(grad), dtype=bool)
        diagonal[: self.n_theta] = np.isfinite(design.theta_lower)
        return boundary_curvature(self.state.theta, diagonal, grad, H)

    def __call__(self, x: np.ndarray) -> float:
        state = self.state
        x = np.asarray(x, dtype=float)
        set_theta(state, x[: self.n_theta])
        if self.nagq == 1:
            state.beta = x[self.n_theta:].copy()
        res = pirls(state, self.kernel, self.nagq == 0, self.tol, self.max_iter)
        if not res.converged:
            # A bad warm start (after a far jump of the optimizer): restart from u = 0.
            state.u = np.zeros_like(state.u)
            res = pirls(state, self.kernel, self.nagq == 0, self.tol, self.max_iter)
            self.pirls_failures += not res.converged
        state.u, state.beta = res.u, res.beta
        state.evaluations += 1
        self.last, self.last_x = res, x.copy()
        self.last_value = res.laplace if np.isfinite(res.laplace) else np.inf
        return self.last_value
