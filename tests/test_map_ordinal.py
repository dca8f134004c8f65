"""The ordinal (cumulative logit) family in the map backend, checked independently of the R
reference (tests/test_map_reference.py compares with ordinal::clmm): a generic optimizer on
the same objective, a finite-difference Hessian for the uncertainty, and the crossed (PCG)
path against the direct one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import bayesmix
from bayesmix.datasets import load
from bayesmix.families.family import ordinal_loglik
from conftest import shared_fits

FORMULA = "rating ~ temp + contact + (1 | judge)"
TAU = shared_fits("wine")["wine_clmm_Laplace"]["random_effects"][0]["sd"][0]


@pytest.fixture(scope="module")
def wine():
    return load("wine")


@pytest.fixture(scope="module")
def fit(wine):
    return bayesmix.fit(FORMULA, wine, "ordinal", backend="map", covariance={"judge": TAU**2},
                        seed=2)


def _objective(design):
    """−Σ log P(y | α, β, b = τu) + ½‖u‖² in x = (α, β, u), written with the families
    module's log-likelihood (independent of the backend's kernels)."""
    t = design.terms[0]
    K1 = len(design.response_levels) - 1

    def f(x):
        alpha, beta, u = x[:K1], x[K1:K1 + design.p], x[K1 + design.p:]
        if np.any(np.diff(alpha) <= 0):
            return np.inf
        eta = design.X @ beta + TAU * u[t.codes]
        return -ordinal_loglik(design.y, eta, alpha).sum() + 0.5 * u @ u

    return f


def _x(fit):
    est = fit.estimates
    return np.concatenate([est.cutpoints, est.beta, est.terms[0].b[:, 0] / TAU])


# BFGS's finite differences step across the α-ordering boundary, where f = inf
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_mode_matches_a_generic_optimizer(fit):
    f = _objective(fit.design)
    start = np.concatenate([np.linspace(-1, 4, 4), np.zeros(2 + 9)])
    res = optimize.minimize(f, start, method="BFGS", options={"gtol": 1e-8, "maxiter": 5000})
    x = _x(fit)
    # BFGS with finite-difference gradients stops ~1e-6 from the optimum; ours is exact
    np.testing.assert_allclose(x, res.x, atol=1e-4 * np.abs(res.x).max())
    assert f(x) <= res.fun + 1e-9
    assert fit.info.extra["objective"] == pytest.approx(f(x), rel=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_normal_prior_on_cutpoints(wine):
    """priors={"cutpoints": Normal(0, 2)} adds Σ α_j² / (2·2²) to the objective."""
    fit = bayesmix.fit(FORMULA, wine, "ordinal", backend="map", covariance={"judge": TAU**2},
                       priors={"cutpoints": bayesmix.Normal(0.0, 2.0)}, draws=10)
    base = _objective(fit.design)

    def f(x):
        return base(x) + np.sum(x[:4] ** 2) / 8

    res = optimize.minimize(f, np.concatenate([np.linspace(-1, 4, 4), np.zeros(11)]),
                            method="BFGS", options={"gtol": 1e-8, "maxiter": 5000})
    np.testing.assert_allclose(_x(fit), res.x, atol=1e-4 * np.abs(res.x).max())
    assert fit.estimates.cutpoints[-1] < 5.9  # shrunk from the flat-prior 5.91


def _fd_hessian(f, x, h=1e-4):
    n = len(x)
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j])
                                 + f(x - E[i] - E[j])) / (4 * h * h)
    return H


def test_uncertainty_is_the_inverse_hessian(fit):
    """Cov of (α, β) and the SDs of b from a central-difference Hessian of the objective
    (truncation error O(h²) ≈ 1e-8 relative, rounding ~ε F / h² ≈ 1e-8: 1e-5 is safe)."""
    x = _x(fit)
    Hi = np.linalg.inv(_fd_hessian(_objective(fit.design), x))
    est = fit.estimates
    np.testing.assert_allclose(est.cutpoints_cov, Hi[:4, :4], rtol=1e-5)
    np.testing.assert_allclose(est.beta_cov, Hi[4:6, 4:6], rtol=1e-5)
    np.testing.assert_allclose(est.terms[0].b_sd[:, 0], TAU * np.sqrt(np.diag(Hi)[6:]),
                               rtol=1e-5)


def test_idata_and_draws(fit):
    post = fit.idata.posterior
    assert {"beta", "cutpoints", "sd_judge", "b_judge"} <= set(post.data_vars)
    assert list(post["cutpoints"].coords["cutpoint"].values) == ["1|2", "2|3", "3|4", "4|5"]
    cut = post["cutpoints"].values.reshape(-1, 4)
    se = np.sqrt(np.diag(fit.estimates.cutpoints_cov))
    assert np.all(np.abs(cut.mean(axis=0) - fit.estimates.cutpoints) < 4 * se / np.sqrt(1000))
    assert np.all(np.diff(cut, axis=1) > 0)
    assert "log_likelihood" in fit.idata.groups()


def test_predict_probabilities(wine, fit):
    new = pd.DataFrame({"temp": pd.Categorical(["warm", "cold"], categories=["cold", "warm"]),
                        "contact": pd.Categorical(["yes", "no"], categories=["no", "yes"]),
                        "judge": ["1", "new judge"]})
    probs = fit.predict(new)
    assert probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    est = fit.estimates
    # the new judge gets b = 0: P(y ≤ 1) = expit(α₁ − 0) for cold/no contact
    assert probs.iloc[1, 0] == pytest.approx(1 / (1 + np.exp(-est.cutpoints[0])))
    eta = est.beta.sum() + est.terms[0].b[0, 0]
    assert probs.iloc[0, 0] == pytest.approx(1 / (1 + np.exp(-(est.cutpoints[0] - eta))))


def test_crossed_ordinal_pcg_agrees_with_direct(wine):
    """(1 | judge) + (1 | bottle): bottle in the dense block, or (dense_max=1) solved by CG
    with the ordinal row Hessians and perturbation draws."""
    formula = "rating ~ temp + contact + (1 | judge) + (1 | bottle)"
    cov = {"judge": TAU**2, "bottle": 0.3}
    direct = bayesmix.fit(formula, wine, "ordinal", backend="map", covariance=cov, draws=200)
    cg = bayesmix.fit(formula, wine, "ordinal", backend="map", covariance=cov, draws=200,
                      dense_max=1, cg_tol=1e-10, seed=5)
    assert cg.info.extra["solver"] == "pcg" and direct.info.extra["solver"] == "schur+dense"
    np.testing.assert_allclose(cg.estimates.cutpoints, direct.estimates.cutpoints, rtol=1e-8)
    np.testing.assert_allclose(cg.estimates.beta, direct.estimates.beta, rtol=1e-8)
    np.testing.assert_allclose(cg.estimates.cutpoints_cov, direct.estimates.cutpoints_cov,
                               rtol=1e-6)
    # perturbation draws: N(mode, H⁻¹) up to Monte Carlo error (200 draws)
    cut = cg.idata.posterior["cutpoints"].values.reshape(-1, 4)
    se = np.sqrt(np.diag(direct.estimates.cutpoints_cov))
    assert np.all(np.abs(cut.std(axis=0) / se - 1) < 4 / np.sqrt(2 * 200))
    # Rao–Blackwellised SDs of b (Monte Carlo only in the coupling): ≤ ~5% per level
    for a, b in zip(cg.estimates.terms, direct.estimates.terms):
        assert np.mean(np.abs(a.b_sd / b.b_sd - 1)) < 0.05
