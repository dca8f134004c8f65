"""The map backend on synthetic data with many levels (benchmarks/datagen.py): Newton's
convergence, recovery of the truth, and the three solver layouts agreeing with each other."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix
from benchmarks.datagen import BETA, COR, SD, SD_CROSSED, glmm_data

COV = np.array([[SD[0] ** 2, COR * SD[0] * SD[1]], [COR * SD[0] * SD[1], SD[1] ** 2]])


def _gradient(fit) -> np.ndarray:
    """∇ of the negative log posterior in (β, u) at the estimates, computed independently
    with the design's sparse Z: [Xᵀ; ΛᵀZᵀ] (∂f/∂η) + (0, u), flat prior on β."""
    d = fit.design
    T = [np.linalg.cholesky(np.outer(te.sd, te.sd) * (te.cor if te.cor is not None else 1))
         for te in fit.estimates.terms]
    b = np.concatenate([te.b.ravel() for te in fit.estimates.terms])
    eta = d.X @ fit.estimates.beta + d.Z @ b
    fam = d.family.name
    if fam == "gaussian":
        resid = (eta - d.y) / fit.estimates.sigma**2
    elif fam == "poisson":
        resid = np.exp(eta) - d.y
    else:
        resid = 1 / (1 + np.exp(-eta)) - d.y
    g_beta = d.X.T @ resid
    g_b = d.Z.T @ resid
    parts = []
    for t, Tk, te in zip(d.terms, T, fit.estimates.terms):
        gb = g_b[t.z_offset:t.z_offset + t.q].reshape(t.m, t.r)
        u = np.linalg.solve(Tk, te.b.T).T
        parts.append((gb @ Tk + u).ravel())
    return np.concatenate([g_beta, *parts])


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
def test_many_levels_one_factor(family):
    data = glmm_data(200_000, 20_000, family=family, seed=1)
    options = {"sigma": 1.0} if family == "gaussian" else {}
    fit = bayesmix.fit("y ~ 1 + x + (1 + x | g)", data, family, backend="map",
                       covariance={"g": COV}, seed=0, **options)
    info = fit.info
    assert info.converged and info.extra["solver"] == "schur"
    # exact Newton: 5–8 steps (2 for the gaussian: one exact step and the check)
    assert info.iterations <= 8
    # first-order conditions, computed independently: the gradient moves β by ≪ its SE
    # (Newton: δβ ≈ Cov(β) g_β) and u (unit prior scale, H_uu ⪰ I) by ≪ 1
    g = _gradient(fit)
    p = fit.design.p
    assert np.all(np.abs(fit.estimates.beta_cov @ g[:p]) < 1e-6 * fit.estimates.beta_se)
    assert np.max(np.abs(g[p:])) < 1e-8
    b = fit.idata.posterior["b_g"]
    assert b.shape[2:] == (fit.design.terms[0].m, 2)
    assert b.shape[1] == fit.info.extra["draws"]
    if family == "gaussian":
        # GLS at the true covariance is unbiased: the truth within 5 standard errors. (The
        # joint mode of a binary or Poisson GLMM is not: it attenuates β with ~10 rows per
        # level, a property of the estimator, not of the solver.)
        z = (fit.estimates.beta - np.array(BETA)) / fit.estimates.beta_se
        assert np.all(np.abs(z) < 5), z


def test_crossed_large_factors_pcg_matches_dense_schur():
    """Two crossed factors of 2,000 levels: the second factor either joins β in the dense
    Schur block (dense_max=2000) or is solved by PCG (dense_max=1): the same mode and
    Cov(β̂), and the PCG path's Rao–Blackwellised b_sd close to the exact ones (16 draws:
    the Monte Carlo part is the coupling between the factors, small with 30 rows a level)."""
    data = glmm_data(60_000, 2_000, crossed_levels=2_000, seed=2)
    formula = "y ~ 1 + x + (1 + x | g) + (1 | h)"
    cov = {"g": COV, "h": SD_CROSSED**2}
    dense = bayesmix.fit(formula, data, "bernoulli", backend="map", covariance=cov, draws=20,
                         seed=0, dense_max=2000)
    cg = bayesmix.fit(formula, data, "bernoulli", backend="map", covariance=cov, seed=0,
                      dense_max=1, cg_tol=1e-9, draws=16)
    assert dense.info.extra["solver"] == "schur+dense"
    assert cg.info.extra["solver"] == "pcg" and cg.info.extra["terms"]["iterative"] == ["h"]
    assert cg.info.iterations <= 8
    np.testing.assert_allclose(cg.estimates.beta, dense.estimates.beta, rtol=1e-7)
    for a, b in zip(cg.estimates.terms, dense.estimates.terms):
        np.testing.assert_allclose(a.b, b.b, atol=1e-7 * np.abs(b.b).max())
        ratio = a.b_sd / b.b_sd
        assert np.mean(np.abs(ratio - 1)) < 0.02 and np.max(np.abs(ratio - 1)) < 0.1
    np.testing.assert_allclose(cg.estimates.beta_cov, dense.estimates.beta_cov, rtol=1e-5)
