"""The Newton optimizer, its average-information Hessians and its moment starting values.

- :func:`minimize_newton` on analytic functions: one step on a quadratic with its exact
  Hessian, superlinear convergence with a wrong Hessian (the secant correction), the
  Rosenbrock valley; the even-boundary correction of the curvature.
- The average-information matrices against the same formulas evaluated with dense n × n
  matrices (V₀ = W⁻¹ + ZΛΛᵀZᵀ and its derivatives), to 1e-8 relative: the sparse and blocked
  shortcuts (Woodbury, a_t = M_t û + M M_tᵀ s, the REML projection) must not change them.
- The moment (MINQUE(0)) starting values: on balanced nested data (Pastes) they are the
  ANOVA estimates, which are lme4's REML estimates; on simulated crossed data they fall
  within sampling error of the fitted values.
- Evaluation counts of whole fits (regressions of the optimizer's efficiency).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix
from bayesmix.backends.laplace.gradient import theta_maps
from bayesmix.backends.laplace.information import (boundary_curvature, glmm_information,
                                                   lmm_information)
from bayesmix.backends.laplace.optimize import fd_hessian_from_gradient, minimize_newton
from bayesmix.backends.laplace.objective import GlmmObjective, LmmObjective
from bayesmix.backends.laplace.start import FLOOR, lmm_start
from bayesmix.latent import latent_field, new_state
from bayesmix.errors import OptionsError
from benchmarks.datagen import glmm_data

from conftest import shared_fits


class _Quadratic:
    """f(x) = ½(x − c)ᵀQ(x − c) with a chosen curvature model B (the exact Q by default)."""

    def __init__(self, Q, c, B=None):
        self.Q, self.c = Q, c
        self.B = Q if B is None else B
        self.x = None

    def __call__(self, x):
        self.x = x.copy()
        d = x - self.c
        return 0.5 * d @ self.Q @ d

    def derivatives(self):
        return self.Q @ (self.x - self.c), self.B


def test_newton_takes_one_step_on_a_quadratic_with_its_hessian():
    Q = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    c = np.array([1.0, -2.0, 0.5])
    f = _Quadratic(Q, c)
    res = minimize_newton(f, f.derivatives, np.zeros(3), tol=1e-20)
    assert res.converged and res.method == "newton"
    assert np.allclose(res.x, c, atol=1e-12)
    assert res.nfev == 2  # the start and the Newton point


def test_secant_correction_repairs_a_wrong_hessian():
    # B keeps only the diagonal of a strongly coupled Q: plain Newton steps on B converge
    # linearly (rate ~0.8 here); the structured secant correction learns the coupling.
    Q = np.array([[4.0, 3.5, 0.0], [3.5, 4.0, 1.0], [0.0, 1.0, 3.0]])
    c = np.array([1.0, -2.0, 0.5])
    f = _Quadratic(Q, c, B=np.diag(np.diag(Q)))
    res = minimize_newton(f, f.derivatives, np.array([1.5, -1.5, 0.0]), tol=1e-16)
    assert res.converged
    assert np.allclose(res.x, c, atol=1e-7)
    assert res.nfev < 20


def test_newton_follows_the_rosenbrock_valley():
    def fun(x):
        fun.x = x.copy()
        return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2

    def derivatives():
        x = fun.x
        g = np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]),
                      200.0 * (x[1] - x[0] ** 2)])
        H = np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2.0, -400.0 * x[0]],
                      [-400.0 * x[0], 200.0]])
        return g, H

    res = minimize_newton(fun, derivatives, np.array([-1.2, 1.0]), tol=1e-20)
    assert res.converged
    assert np.allclose(res.x, [1.0, 1.0], atol=1e-8)


def test_boundary_curvature_of_an_even_objective():
    # f = c θ² near the boundary: g = 2cθ and the information vanishes; the corrected
    # curvature 2c makes the Newton step land on 0. At exactly 0 the entry is frozen.
    g, H = boundary_curvature(np.array([0.3, 0.7]), np.array([True, False]),
                              np.array([2 * 5.0 * 0.3, 1.0]), np.array([[1e-9, 0], [0, 2.0]]))
    assert np.isclose(H[0, 0], 10.0 + 1e-9) and H[1, 1] == 2.0
    assert np.isclose(-g[0] / H[0, 0], -0.3)
    g, H = boundary_curvature(np.array([0.0, 0.7]), np.array([True, False]),
                              np.array([1e-12, 1.0]), np.array([[0.0, 0.1], [0.1, 2.0]]))
    assert g[0] == 0.0 and H[0, 0] == 1.0 and H[0, 1] == 0.0 and H[1, 0] == 0.0


def test_forward_difference_hessian_of_a_gradient():
    def grad(x):
        return np.array([np.exp(x[0]) + x[1] ** 2, 2.0 * x[0] * x[1]])

    x = np.array([0.3, -0.7])
    exact = np.array([[np.exp(0.3), -1.4], [-1.4, 0.6]])
    H = fd_hessian_from_gradient(grad, x, np.full(2, 2e-5))
    assert np.allclose(H, exact, rtol=1e-4, atol=1e-4)


# -- average information against dense matrices ------------------------------------------------

def _dense_parts(design, state):
    M = state.zl.toarray()
    Z = design.Z.toarray()
    Mt = [Z @ design.Lambda(np.eye(design.n_theta)[t]).toarray()
          for t in range(design.n_theta)]
    return M, Mt


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(("formula", "dataset", "weights"), [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "w"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
])
def test_lmm_information_matches_dense_formula(formula, dataset, weights, reml):
    data = bayesmix.datasets.load(dataset)
    data["w"] = 1.0 + np.arange(len(data)) % 3
    design = bayesmix.build_design(formula, data, weights=weights)
    obj = LmmObjective(new_state(latent_field(design)), reml)
    theta = np.where(np.isfinite(design.theta_lower), 0.8, 0.15)
    obj(theta)
    sol = obj.last
    H = lmm_information(obj.state, sol, reml, theta_maps(design))

    n, p = design.n, design.p
    w = np.ones(n) if weights is None else data["w"].to_numpy(float)
    M, Mt = _dense_parts(design, obj.state)
    V0 = np.diag(1.0 / w) + M @ M.T
    V0i = np.linalg.inv(V0)
    X, y = design.X, design.y
    s = V0i @ (y - X @ sol.beta)
    assert np.allclose(s, w * (y - X @ sol.beta - M @ sol.u), rtol=1e-8, atol=1e-10)
    A = np.column_stack([(Mk @ M.T + M @ Mk.T) @ s for Mk in Mt])
    P = V0i - V0i @ X @ np.linalg.solve(X.T @ V0i @ X, X.T @ V0i) if reml else V0i
    nu = n - p if reml else n
    sigma2 = sol.pwrss / nu
    sa = s @ A
    want = A.T @ P @ A / sigma2 - np.outer(sa, sa) / (nu * sigma2**2)
    assert np.allclose(H, want, rtol=1e-8, atol=1e-8 * np.max(np.abs(want)))


def test_glmm_information_matches_dense_formula():
    data = bayesmix.datasets.load("cbpp")
    design = bayesmix.build_design("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                   data, "binomial")
    obj = GlmmObjective(new_state(latent_field(design)), 1)
    obj(np.array([0.7, -1.2, -0.9, -1.1, -1.5]))
    res = obj.last
    H = glmm_information(obj.state, res, theta_maps(design))
    M, Mt = _dense_parts(design, obj.state)
    V0i = np.linalg.inv(np.diag(1.0 / res.w) + M @ M.T)
    A = np.column_stack([(Mk @ M.T + M @ Mk.T) @ res.score for Mk in Mt])
    B = np.column_stack([A, np.sqrt(2.0) * design.X])
    want = B.T @ V0i @ B
    assert np.allclose(H, want, rtol=1e-8, atol=1e-8 * np.max(np.abs(want)))


# -- moment starting values --------------------------------------------------------------------

def test_moment_start_on_balanced_nested_data_is_the_anova_estimate():
    ref = shared_fits("Pastes")["Pastes_lmer_REML"]
    design = bayesmix.build_design(ref["formula"], bayesmix.datasets.load("Pastes"))
    theta = lmm_start(latent_field(design))
    want = np.array(ref["theta"]["value"])
    # Balanced nested data: the moment equations (residuals and expectations projected off
    # X) are the ANOVA ones, whose positive solution is the REML estimate; lme4's optimizer
    # stops within ~1e-4 of it.
    assert np.all(want > FLOOR)
    assert np.allclose(theta, want, rtol=3e-4)


def test_moment_start_on_crossed_data_is_near_the_estimate():
    data = glmm_data(20_000, 300, family="gaussian", crossed_levels=60, seed=5)
    formula = "y ~ 1 + x + (1 + x | g) + (1 | h)"
    design = bayesmix.build_design(formula, data)
    start = lmm_start(latent_field(design))
    fit = bayesmix.fit(formula, data, draws=0, priors="flat")
    # Sampling error of the moment estimates: ~SD/√(2·levels), 0.03 for g, 0.04 for h;
    # bound at three of those on every entry of θ (σ ≈ 1 here).
    assert np.max(np.abs(start - fit.estimates.theta)) < 0.12


# -- whole fits ------------------------------------------------------------------------------

def test_newton_fits_need_few_evaluations():
    sleep = bayesmix.fit("Reaction ~ Days + (Days | Subject)",
                         bayesmix.datasets.load("sleepstudy"), draws=0, priors="flat")
    assert sleep.info.extra["gradient"] == "analytic" and sleep.info.iterations <= 8
    logistic = bayesmix.fit("y ~ 1 + x + (1 + x | g)", glmm_data(20_000, 2_000, seed=4),
                            "bernoulli", draws=0, priors="flat")
    assert logistic.info.extra["evaluations_laplace"] <= 15


def test_gradient_auto_is_derivative_free_on_cholmod_for_lmms():
    data = bayesmix.datasets.load("Penicillin")
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    auto = bayesmix.fit(formula, data, factorization="cholmod", draws=0, priors="flat")
    forced = bayesmix.fit(formula, data, factorization="cholmod", draws=0, gradient=True,
                          priors="flat")
    assert auto.info.extra["gradient"] == "none"
    assert forced.info.extra["gradient"] == "analytic"
    assert abs(auto.loglik - forced.loglik) < 1e-6
    with pytest.raises(OptionsError, match="gradient must be"):
        bayesmix.fit(formula, data, gradient="yes", priors="flat")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bayesmix.fit(formula, data, draws=0, gradient=False, priors="flat").converged
