"""The mode φ̂ of the hyperparameters' log posterior L(φ) and the curvature H there.

The Bayesian Laplace integrates p(φ | y) ∝ exp L(φ) (:mod:`.marginal`) in the standardized
coordinates of H (:mod:`.integrate`); this module finds where and with what scale: a start
from moment estimates, Newton steps on the average information (with the structured secant
correction of :func:`~.optimize.minimize_newton`) where the family has one, else Newton steps
on a finite-difference Hessian updated by BFGS.
"""

from __future__ import annotations

import numpy as np

from ...latent import set_theta, solve_pls
from .hyper import HyperSpace
from .marginal import LaplaceMarginal
from .optimize import fd_hessian, fd_hessian_from_gradient, minimize_newton
from .start import glm_start, glmm_start, lmm_start

__all__ = ["start_phi", "hessian", "find_mode"]


def start_phi(spec, field, state, hyper: HyperSpace) -> np.ndarray:
    """φ from moment estimates of θ (and σ from the PLS solution there)."""
    if spec.design.family.has_sigma:
        theta = lmm_start(field)
        sol = solve_pls(set_theta(state, theta))
        sigma = float(np.sqrt(sol.pwrss / max(field.n - field.p, 1)))
        return hyper.from_theta(theta, sigma)
    if spec.design.family.kernel_parameters or spec.design.family.zero_inflated:
        from .dispersion import glm_params_start

        beta, alpha, gamma = glm_params_start(field, spec.constants())
        zeta = None if gamma is None else field.X_zi @ gamma
        return hyper.from_theta(glmm_start(field, beta, alpha, zeta), None, beta, alpha,
                                gamma)
    beta = glm_start(field)
    return hyper.from_theta(glmm_start(field, beta), None, beta)


def hessian(marginal: LaplaceMarginal, phi: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """H = −∇²L at φ: forward differences of the analytic gradient (``g0`` at φ), or
    central second differences of L when the gradient is itself a difference. It only
    standardizes the integration, which corrects for its error (importance weights, NUTS).
    The marginal ends at φ."""
    if marginal.analytic_gradient:
        H = fd_hessian_from_gradient(lambda x: -marginal.gradient(x), phi, 1e-4, g0=-g0)
    else:
        H = fd_hessian(lambda x: -marginal(x), phi, 2e-3)
    marginal(phi)
    return 0.5 * (H + H.T)


def find_mode(marginal: LaplaceMarginal, phi0: np.ndarray, max_evals: int):
    """φ̂ and H there, by Newton steps on −L with a backtracking line search
    (:func:`~.optimize.minimize_newton`). Curvature: the average information where the
    family has one (two passes over the rows per step; with the structured secant
    correction the steps converge superlinearly), else the finite-difference Hessian at φ₀
    updated by BFGS. The final curvature is the H the integration standardizes with (the
    importance weights correct what it misses); if it is not positive definite, the
    finite-difference Hessian replaces it."""
    phi = np.asarray(phi0, dtype=float)
    messages = []
    if marginal.curvature(phi) is not None:
        opt = minimize_newton(lambda x: -marginal(x),
                              lambda: (-marginal.gradient(marginal.last_phi),
                                       marginal.curvature(marginal.last_phi)),
                              phi, tol=1e-10, max_evals=max_evals)
        phi, H, converged, iterations = opt.x, opt.curvature, opt.converged, opt.nfev
        g = marginal.gradient(phi)
    else:
        phi, H, converged, iterations, g = _bfgs_steps(marginal, phi, max_evals)
    H = 0.5 * (H + H.T)
    vals, vecs = np.linalg.eigh(H)
    if vals[0] <= 0:
        H = hessian(marginal, phi, g)
        vals, vecs = np.linalg.eigh(H)
    if vals[0] <= 0:
        converged = False
        messages.append(
            "the log posterior of the covariance parameters is not concave at its mode (the "
            "Hessian has a non-positive eigenvalue): some combination of SDs / correlations is "
            "not identified by the data and its prior is too weak. Use stronger priors on the "
            "SDs, simplify the random-effects part, or use backend='nuts'."
        )
        H = (vecs * np.maximum(vals, 1e-3 * max(vals[-1], 1.0))) @ vecs.T
    elif not converged:
        messages.append(
            f"the mode of the covariance parameters' posterior was not reached in {max_evals} "
            "evaluations (max_evals); the integration starts from the last point. Increase "
            "max_evals or rescale the covariates."
        )
    marginal(phi)
    return phi, H, converged, messages, iterations


def _bfgs_steps(marginal: LaplaceMarginal, phi: np.ndarray, max_evals: int):
    """Newton steps on the finite-difference Hessian at φ₀ updated by BFGS (the curvature
    of L changes little between the moment start and the mode)."""
    g = marginal.gradient(phi)
    value = marginal.last_value
    B = hessian(marginal, phi, g)
    evals, converged, iterations = 1, False, 0
    while evals < max_evals:
        vals, vecs = np.linalg.eigh(0.5 * (B + B.T))
        step = vecs @ ((vecs.T @ g) / np.maximum(vals, 1e-8 * max(vals[-1], 1e-8)))
        decrement = float(g @ step)
        if decrement < 1e-10:
            converged = True
            break
        t = 1.0
        while evals < max_evals and t > 1e-8:
            trial = phi + t * step
            evals += 1
            if marginal(trial) >= value + 1e-4 * t * decrement:
                break
            t *= 0.5
        else:
            # No increase along the Newton direction: L is flat there to its rounding
            # (a sum over many rows), i.e. the mode to the precision of L.
            converged = decrement < 1e-4
            break
        g_new = marginal.gradient(trial)
        s_vec, y_vec = trial - phi, -(g_new - g)
        phi, g, value = trial, g_new, marginal.last_value
        iterations += 1
        if s_vec @ y_vec > 1e-12 * np.linalg.norm(s_vec) * np.linalg.norm(y_vec):
            Bs = B @ s_vec
            B = B - np.outer(Bs, Bs) / (s_vec @ Bs) + np.outer(y_vec, y_vec) / (s_vec @ y_vec)
    return phi, B, converged, iterations, g
