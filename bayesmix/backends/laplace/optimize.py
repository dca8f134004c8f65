"""Minimisation of the Laplace objectives over θ (and β for nAGQ = 1).

The objectives are cheap-to-moderate, smooth, even in the sign of each column of T_k, and
often have their optimum on the boundary θ_diag = 0 (singular fits). Where an analytic
gradient exists (every LMM; GLMMs with a canonical link) :func:`minimize_newton` takes Newton
steps on the average-information approximation of the Hessian (:mod:`.information`), which is
cheap next to the gradient, from moment starting values (:mod:`.start`): a handful of
evaluations where quasi-Newton methods take several times more (``docs/measurements.md``).
Elsewhere the derivative-free
:func:`minimize_bounded` (scipy's COBYQA, the successor of Powell's BOBYQA that lme4 uses;
or L-BFGS-B on finite differences, or Powell) runs on the box of lme4's bounds.
``tests/test_laplace_gradient.py`` checks that both paths reach the same optimum.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize

__all__ = ["OptimResult", "minimize_bounded", "fd_hessian", "fd_hessian_from_gradient",
           "minimize_newton"]


@dataclass(frozen=True)
class OptimResult:
    """Outcome of one optimization stage.

    Attributes
    ----------
    x : ndarray
    fun : float
    nfev : int
    converged : bool
    message : str
    method : str
    curvature : ndarray or None
        Newton's curvature matrix at ``x`` (the approximate Hessian plus its secant
        correction) when the method has one.
    """

    x: np.ndarray
    fun: float
    nfev: int
    converged: bool
    message: str
    method: str
    curvature: np.ndarray | None = None


class _Tracked:
    """The objective with the best point seen (an optimizer may stop elsewhere)."""

    def __init__(self, fun: Callable[[np.ndarray], float], lower, upper):
        self.fun = fun
        self.lower = lower
        self.upper = upper
        self.best_x: np.ndarray | None = None
        self.best_f = np.inf
        self.nfev = 0

    def __call__(self, x: np.ndarray) -> float:
        x = np.clip(np.asarray(x, dtype=float), self.lower, self.upper)
        f = float(self.fun(x))
        self.nfev += 1
        if not np.isfinite(f):
            return 1e300
        if f < self.best_f:
            self.best_f, self.best_x = f, x.copy()
        return f


def minimize_bounded(
    fun: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray | None = None,
    *,
    method: str = "cobyqa",
    ftol: float = 1e-9,
    xtol: float = 1e-7,
    max_evals: int = 10_000,
    initial_step: float = 0.5,
) -> OptimResult:
    """Minimise ``fun`` over the box [lower, upper].

    Parameters
    ----------
    fun : callable ndarray → float
    x0 : ndarray
        Start (moved inside the box).
    lower, upper : ndarray
        Bounds (−inf / +inf allowed).
    method : {"cobyqa", "lbfgsb", "powell"}
    ftol, xtol : float
        Tolerances on the objective and on the parameters.
    max_evals : int
    initial_step : float
        Initial trust-region radius (COBYQA) on the scale of x.

    Returns
    -------
    OptimResult
        ``x`` is the best point evaluated.
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.full_like(lower, np.inf) if upper is None else np.asarray(upper, dtype=float)
    x0 = np.clip(np.asarray(x0, dtype=float), lower, upper)
    tracked = _Tracked(fun, lower, upper)
    bounds = optimize.Bounds(lower, upper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "cobyqa":
            res = optimize.minimize(
                tracked, x0, method="COBYQA", bounds=bounds,
                options={"initial_tr_radius": initial_step, "final_tr_radius": xtol,
                         "maxfev": max_evals, "scale": False},
            )
            converged = res.status in (0, 1)
        elif method == "lbfgsb":
            res = optimize.minimize(
                tracked, x0, method="L-BFGS-B", bounds=list(zip(lower, upper)),
                options={"maxfun": max_evals, "ftol": ftol, "gtol": 1e-6,
                         "eps": 1e-7, "maxls": 40},
            )
            converged = bool(res.success)
        elif method == "powell":
            res = optimize.minimize(
                tracked, x0, method="Powell", bounds=list(zip(lower, upper)),
                options={"maxfev": max_evals, "xtol": xtol, "ftol": ftol},
            )
            converged = bool(res.success)
        else:
            raise ValueError(f"unknown optimizer {method!r}")
    x = tracked.best_x if tracked.best_x is not None else np.asarray(res.x, dtype=float)
    return OptimResult(x=x, fun=tracked.best_f, nfev=tracked.nfev, converged=converged,
                       message=str(res.message), method=method)


def fd_hessian(fun: Callable[[np.ndarray], float], x: np.ndarray, step: np.ndarray,
               f0: float | None = None) -> np.ndarray:
    """Central finite-difference Hessian (lme4's ``deriv12`` scheme), 2k² evaluations.

    Diagonal: (f(x+hᵢ) − 2f(x) + f(x−hᵢ))/hᵢ²; off-diagonal: the four-point formula
    (f(x+hᵢ+hⱼ) − f(x+hᵢ−hⱼ) − f(x−hᵢ+hⱼ) + f(x−hᵢ−hⱼ))/(4hᵢhⱼ).
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    step = np.broadcast_to(np.asarray(step, dtype=float), (k,))
    f0 = fun(x) if f0 is None else f0
    H = np.empty((k, k))
    E = np.diag(step)
    for i in range(k):
        H[i, i] = (fun(x + E[i]) - 2.0 * f0 + fun(x - E[i])) / step[i] ** 2
        for j in range(i):
            v = (fun(x + E[i] + E[j]) - fun(x + E[i] - E[j]) - fun(x - E[i] + E[j])
                 + fun(x - E[i] - E[j])) / (4.0 * step[i] * step[j])
            H[i, j] = H[j, i] = v
    return H


def fd_hessian_from_gradient(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                             step: np.ndarray, g0: np.ndarray | None = None) -> np.ndarray:
    """Hessian by forward differences of an analytic gradient (k gradient evaluations, one
    more when the gradient ``g0`` at x is not given), symmetrised.

    With the analytic gradient accurate to ~1e-9 relative (tight PIRLS), steps of 2e-5 (on
    the scale of unit curvature) leave both the truncation and the rounding error near 1e-5
    relative in the standard errors, as central differences do at twice the PIRLS solves
    (``docs/measurements.md``).
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    step = np.broadcast_to(np.asarray(step, dtype=float), (k,))
    g0 = grad(x) if g0 is None else g0
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step[j]
        H[:, j] = (grad(x + e) - g0) / step[j]
    return 0.5 * (H + H.T)


# The secant correction starts once the decrement is below this (within about one standard
# error of the optimum): farther away the Hessian's error is not what the step saw.
_SECANT_FROM = 1.0


def _secant_correction(E, H, s, y):
    """Correction E⁺ = B⁺ − H with B⁺ the BFGS update of B = H + E over the step s with
    gradient change y (so that B⁺s = y), H the approximate Hessian at the new point.

    A structured quasi-Newton update in the manner of Dennis, Gay & Welsch (NL2SOL): H (the
    average information) is recomputed at every point and E learns what it misses, which
    turns the linear convergence of the approximate Newton steps into a superlinear one.
    LMMs run without it: their average information is already close to the Hessian, and the
    correction's early steps cost more than they save (``docs/measurements.md``).
    """
    B = H + E
    Bs = B @ s
    ys, sBs = y @ s, s @ Bs
    if ys <= 1e-12 * np.sqrt((y @ y) * (s @ s)) or sBs <= 0.0:
        return E  # no positive curvature along s: keep the old correction
    return B - np.outer(Bs, Bs) / sBs + np.outer(y, y) / ys - H


def _newton_step(B, g):
    """−B⁻¹g, with B made positive definite by a growing ridge if it is not."""
    scale = max(float(np.max(np.abs(np.diag(B)))), 1e-300)
    ridge = 0.0
    for _ in range(30):
        try:
            c = np.linalg.cholesky(B + ridge * np.eye(len(g)))
            return -np.linalg.solve(c.T, np.linalg.solve(c, g))
        except np.linalg.LinAlgError:
            ridge = max(1e-10 * scale, 10.0 * ridge)
    return -g / scale


def minimize_newton(
    evaluate: Callable[[np.ndarray], float],
    derivatives: Callable[[], tuple[np.ndarray, np.ndarray]],
    x0: np.ndarray,
    *,
    tol: float = 1e-10,
    max_evals: int = 10_000,
    secant: bool = True,
) -> OptimResult:
    """Unconstrained Newton iteration on an approximate Hessian, with a line search.

    Parameters
    ----------
    evaluate : callable x → f
        The objective; moves the solver state to x.
    derivatives : callable () → (g, H)
        Gradient and approximate Hessian (positive semi-definite) at the point of the latest
        ``evaluate`` call.
    x0 : ndarray
    tol : float
        Stop when the Newton decrement gᵀB⁻¹g (twice the predicted decrease of f) falls
        below ``tol``: with f a deviance (−2 log-likelihood), √tol is the distance to the
        optimum in standard errors.
    max_evals : int
        Maximum evaluations of the objective.
    secant : bool
        Add the structured secant correction (:func:`_secant_correction`) to H.

    Returns
    -------
    OptimResult
        ``x`` is the last accepted point, the one ``evaluate`` saw last when converged.

    Notes
    -----
    B = H + E with E the structured secant correction (:func:`_secant_correction`) or 0;
    the step −B⁻¹g is shortened by backtracking until the Armijo condition holds. The
    derivatives are computed only at accepted points, so a rejected trial costs one
    evaluation.
    """
    x = np.asarray(x0, dtype=float).copy()
    f = float(evaluate(x))
    nfev = 1
    if not np.isfinite(f):
        return OptimResult(x, f, nfev, False, "objective not finite at the start", "newton")
    g, H = derivatives()
    E = np.zeros_like(H)
    message, converged = "maximum number of evaluations reached", False
    while nfev < max_evals:
        step = _newton_step(H + E, g)
        decrement = float(-g @ step)
        if decrement < tol:
            message, converged = "Newton decrement below tol", True
            break
        alpha, status = 1.0, "max"
        while nfev < max_evals:
            f_new = float(evaluate(x + alpha * step))
            nfev += 1
            if np.isfinite(f_new) and f_new <= f - 1e-4 * alpha * decrement:
                status = "accepted"
                break
            if alpha < 1e-10 or (np.isfinite(f_new)
                                 and abs(f_new - f) <= 1e-13 * (1.0 + abs(f))):
                status = "stalled"  # no decrease beyond rounding along the direction
                break
            # Minimiser of the quadratic through f, the slope −decrement and f_new, kept in
            # [0.1, 0.5] of the current step.
            shrink = 0.5
            if np.isfinite(f_new):
                denom = 2.0 * (f_new - f + alpha * decrement)
                if denom > 0:
                    shrink = min(0.5, max(0.1, alpha * decrement / denom))
            alpha *= shrink
        if status != "accepted":
            evaluate(x)  # back to the best point, whose state the caller reads
            nfev += 1
            if status == "stalled":
                # Converged to the precision of the objective when the predicted decrease
                # is itself at rounding level.
                converged = decrement <= max(tol, 1e-9 * (1.0 + abs(f)))
                message = ("no decrease beyond rounding along the Newton direction"
                           + ("" if converged else f" (decrement {decrement:.3g})"))
            break
        s = alpha * step
        x = x + s
        f = f_new
        g_new, H_new = derivatives()
        if secant and decrement < _SECANT_FROM:
            E = _secant_correction(E, H_new, s, g_new - g)
        g, H = g_new, H_new
        try:
            np.linalg.cholesky(H + E)
        except np.linalg.LinAlgError:
            E = np.zeros_like(H)  # the correction broke positivity: restart it
    return OptimResult(x=x, fun=f, nfev=nfev, converged=converged, message=message,
                       method="newton", curvature=H + E)
