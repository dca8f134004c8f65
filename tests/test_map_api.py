"""The map backend's inputs and outputs: covariance forms, bad input, priors, weights,
predictions and the InferenceData it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix
from bayesmix import Normal, StudentT
from bayesmix.datasets import load
from bayesmix.errors import FamilyError, OptionsError, PriorError
from bayesmix.results import make_idata
from conftest import shared_fits

SLEEP = "Reaction ~ Days + (Days | Subject)"
REML = shared_fits("sleepstudy")["sleepstudy_lmer_corr_REML"]
SIGMA = REML["sigma"]
COV = np.asarray(REML["random_effects"][0]["cov"])


@pytest.fixture(scope="module")
def sleep():
    return load("sleepstudy")


@pytest.fixture(scope="module")
def sleep_fit(sleep):
    return bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV}, sigma=SIGMA,
                        seed=3)


def _same(a, b, rtol=1e-12):
    np.testing.assert_allclose(a.estimates.beta, b.estimates.beta, rtol=rtol)
    for ta, tb in zip(a.estimates.terms, b.estimates.terms):
        np.testing.assert_allclose(ta.b, tb.b, rtol=rtol, atol=rtol * np.abs(tb.b).max())


# -- covariance forms ---------------------------------------------------------------------


def test_covariance_forms_agree(sleep, sleep_fit):
    named = pd.DataFrame(COV[::-1, ::-1], index=["Days", "(Intercept)"],
                         columns=["Days", "(Intercept)"])
    by_frame = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": named},
                            sigma=SIGMA)
    _same(by_frame, sleep_fit)
    # a varcorr() table carries SDs, correlations and sigma
    table = sleep_fit.varcorr()
    assert set(table.kind) == {"sd", "cor", "sigma"}
    by_table = bayesmix.fit(SLEEP, sleep, backend="map", covariance=table)
    _same(by_table, sleep_fit, rtol=1e-10)
    # another Fit: its estimates ("estimate weekly, refit daily")
    by_fit = bayesmix.fit(SLEEP, sleep, backend="map", covariance=sleep_fit)
    _same(by_fit, sleep_fit, rtol=1e-10)
    assert by_fit.estimates.sigma == pytest.approx(SIGMA)


def test_covariance_from_a_sampled_fit_is_the_posterior_mean(sleep, sleep_fit):
    """For a Fit without point estimates the covariance is E[Σ] over the draws (and σ² its
    posterior mean): built here from synthetic draws whose mean is known."""
    rng = np.random.default_rng(0)
    n = 400
    sd = np.abs(rng.normal([24.7, 5.9], [2.0, 0.5], size=(n, 2)))
    rho = rng.uniform(-0.2, 0.4, n)
    R = np.broadcast_to(np.eye(2), (n, 2, 2)).copy()
    R[:, 0, 1] = R[:, 1, 0] = rho
    sigma = rng.normal(SIGMA, 1.0, n)
    post = {
        "beta": rng.normal(size=(1, n, 2)), "sigma": sigma[None],
        "sd_Subject": sd[None], "cor_Subject": R[None],
        "b_Subject": rng.normal(size=(1, n, 18, 2)),
    }
    idata = make_idata(sleep_fit.spec, post, backend="nuts", approximation="synthetic")
    sampled = bayesmix.results.Fit(sleep_fit.spec, idata, sleep_fit.info)
    fit = bayesmix.fit(SLEEP, sleep, backend="map", covariance=sampled)
    expected = (sd[:, :, None] * R * sd[:, None, :]).mean(axis=0)
    te = fit.estimates.terms[0]
    got = np.outer(te.sd, te.sd) * te.cor
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert fit.estimates.sigma == pytest.approx(np.sqrt(np.mean(sigma**2)))


def test_group_key_and_scalar_for_one_column_term():
    data = load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    a = bayesmix.fit(formula, data, "binomial", backend="map", covariance={"herd": 0.41})
    b = bayesmix.fit(formula, data, "binomial", backend="map", covariance={"herd": [[0.41]]})
    _same(a, b)
    assert a.estimates.terms[0].sd[0] == pytest.approx(np.sqrt(0.41))


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("covariance, sigma, match", [
    (None, SIGMA, "needs covariance="),
    ({}, SIGMA, "no entry for random term 'Subject'"),
    ({"Subject": np.eye(3)}, SIGMA, r"shape \(3, 3\).*2 column"),
    ({"Subject": [[1.0, 0.5], [0.2, 1.0]]}, SIGMA, "not symmetric"),
    ({"Subject": [[1.0, 2.0], [2.0, 1.0]]}, SIGMA, "not positive semi-definite"),
    ({"Subject": COV, "Shop": [[1.0]]}, SIGMA, "unknown group.*'Shop'.*Subject"),
    ({"Subject": [[np.nan, 0], [0, 1]]}, SIGMA, "non-finite"),
    ({"Subject": "big"}, SIGMA, "numeric 2×2 matrix"),
    ({"Subject": COV}, None, "needs the residual SD"),
    ({"Subject": COV}, -1.0, "sigma must be a positive number"),
    ([1, 2], SIGMA, "must be a dict"),
    ({"Subject": pd.DataFrame(COV, index=["a", "b"], columns=["a", "b"])}, SIGMA,
     "labelled.*columns are"),
])
def test_bad_covariance_is_a_clear_error(sleep, covariance, sigma, match):
    options = {} if sigma is None else {"sigma": sigma}
    with pytest.raises(OptionsError, match=match):
        bayesmix.fit(SLEEP, sleep, backend="map", covariance=covariance, **options)


def test_uncorrelated_term_rejects_off_diagonal_covariance(sleep):
    with pytest.raises(OptionsError, match=r"uncorrelated \(written with \|\|\)"):
        bayesmix.fit("Reaction ~ Days + (Days || Subject)", sleep, backend="map",
                     covariance={"Subject": COV}, sigma=SIGMA)


def test_sigma_for_a_family_without_one():
    data = load("cbpp")
    with pytest.raises(OptionsError, match="gaussian family only"):
        bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", data,
                     "binomial", backend="map", covariance={"herd": 0.4}, sigma=1.0)


def test_non_canonical_link_is_refused():
    data = load("cbpp")
    with pytest.raises(FamilyError, match="canonical links.*laplace"):
        bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", data,
                     "binomial", link="probit", backend="map", covariance={"herd": 0.4})


@pytest.mark.parametrize("options, match", [
    ({"tol": 0}, "tol must be"), ({"max_iter": 0}, "max_iter"), ({"draws": -1}, "draws"),
    ({"dense_max": 1.5}, "dense_max"), ({"seed": "a"}, "seed"), ({"cg_tol": 2}, "cg_tol"),
    ({"covariance_of": 1}, "unknown option"),
])
def test_bad_options(sleep, options, match):
    with pytest.raises(OptionsError, match=match):
        bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV}, sigma=SIGMA,
                     **options)


# -- priors ----------------------------------------------------------------------------------


def test_normal_prior_on_beta_is_the_gaussian_posterior_mode(sleep):
    """Gaussian family: with β ~ N(μ, s²) the posterior of (β, u) is Gaussian, its mode the
    solution of the normal equations [AᵀA/σ² + P] x = Aᵀy/σ² + P μ₀ (A = [X, ZΛ]), solved
    densely here."""
    prior = Normal(200.0, 5.0)
    fit = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV}, sigma=SIGMA,
                       priors={"(Intercept)": prior})
    d = fit.design
    T = np.linalg.cholesky(COV)
    lam = np.kron(np.eye(d.terms[0].m), T)
    A = np.hstack([d.X, d.Z.toarray() @ lam])
    prec = np.zeros(A.shape[1])
    prec[0] = 1 / prior.sigma**2
    prec[d.p:] = 1.0
    mean = np.zeros(A.shape[1])
    mean[0] = prior.mu
    H = A.T @ A / SIGMA**2 + np.diag(prec)
    x = np.linalg.solve(H, A.T @ d.y / SIGMA**2 + prec * mean)
    np.testing.assert_allclose(fit.estimates.beta, x[:2], rtol=1e-10)
    np.testing.assert_allclose(fit.estimates.terms[0].b.ravel(), lam @ x[2:], rtol=1e-9)
    np.testing.assert_allclose(fit.estimates.beta_cov, np.linalg.inv(H)[:2, :2], rtol=1e-9)
    assert fit.estimates.beta[0] < REML["fixef"]["estimate"][0]  # shrunk towards 200


def test_unsupported_and_ignored_priors(sleep):
    with pytest.raises(PriorError, match="cannot honour"):
        bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV}, sigma=SIGMA,
                     priors={"Days": StudentT(3, 0, 1)})
    with pytest.warns(bayesmix.errors.BayesmixWarning, match="no effect"):
        fit = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV},
                           sigma=SIGMA, priors={"sd": bayesmix.HalfNormal(10.0)})
    assert any("no effect" in m for m in fit.info.messages)


# -- weights, offsets, singular covariance ------------------------------------------------


def test_prior_weights_equal_repeated_rows():
    """Binomial/Poisson prior weights multiply the log-likelihood: weight 2 on every row is
    the same objective as every row twice. (No scale(): duplicating rows changes its SD.)"""
    data = load("grouseticks")
    formula = "TICKS ~ YEAR + (1 | BROOD)"
    cov = {"BROOD": 0.6}
    weighted = bayesmix.fit(formula, data, "poisson", backend="map", covariance=cov,
                            weights=np.full(len(data), 2.0))
    doubled = bayesmix.fit(formula, pd.concat([data, data], ignore_index=True), "poisson",
                           backend="map", covariance=cov)
    _same(weighted, doubled, rtol=1e-9)
    assert weighted.loglik == pytest.approx(doubled.loglik, rel=1e-10)


def test_gaussian_weights_are_precisions(sleep, sleep_fit):
    """lme4's convention: weight w_i scales the residual precision, so w = 4 on every row is
    σ/2: the same estimates as the unweighted fit with sigma halved."""
    weighted = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV},
                            sigma=SIGMA, weights=np.full(len(sleep), 4.0))
    halved = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": COV},
                          sigma=SIGMA / 2)
    _same(weighted, halved, rtol=1e-10)
    np.testing.assert_allclose(weighted.estimates.beta_cov, halved.estimates.beta_cov,
                               rtol=1e-10)
    assert weighted.loglik == pytest.approx(halved.loglik, rel=1e-12)


def test_offset_shifts_eta():
    data = load("grouseticks").assign(expo=0.7)
    cov = {"BROOD": 0.6}
    base = bayesmix.fit("TICKS ~ YEAR + (1 | BROOD)", data, "poisson", backend="map",
                        covariance=cov)
    off = bayesmix.fit("TICKS ~ YEAR + offset(expo) + (1 | BROOD)", data, "poisson",
                       backend="map", covariance=cov)
    assert off.estimates.beta[0] == pytest.approx(base.estimates.beta[0] - 0.7, rel=1e-9)
    np.testing.assert_allclose(off.estimates.beta[1:], base.estimates.beta[1:], rtol=1e-9)


def test_singular_covariance(sleep):
    """A zero slope variance confines b to the intercept direction: slopes exactly 0, a
    message says so."""
    cov = np.diag([COV[0, 0], 0.0])
    fit = bayesmix.fit(SLEEP, sleep, backend="map", covariance={"Subject": cov}, sigma=SIGMA)
    assert np.all(fit.estimates.terms[0].b[:, 1] == 0.0)
    assert fit.info.singular and any("singular" in m for m in fit.info.messages)
    ref = bayesmix.fit("Reaction ~ Days + (1 | Subject)", sleep, backend="map",
                       covariance={"Subject": COV[0, 0]}, sigma=SIGMA)
    np.testing.assert_allclose(fit.estimates.beta, ref.estimates.beta, rtol=1e-10)


def test_separation_is_reported_and_a_normal_prior_fixes_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    data = pd.DataFrame({"y": (x > 0).astype(int), "x": x, "g": rng.integers(0, 50, 2000)})
    with pytest.warns(bayesmix.errors.ConvergenceWarning, match="separated"):
        fit = bayesmix.fit("y ~ x + (1 | g)", data, "bernoulli", backend="map",
                           covariance={"g": 0.5})
    assert any("Normal prior" in m for m in fit.info.messages)
    fit = bayesmix.fit("y ~ x + (1 | g)", data, "bernoulli", backend="map",
                       covariance={"g": 0.5}, priors={"x": Normal(0, 5)})
    assert fit.converged and not fit.info.messages and 10 < fit.estimates.beta[1] < 100


def test_max_iter_reached_is_a_convergence_warning():
    data = load("cbpp")
    with pytest.warns(bayesmix.errors.ConvergenceWarning, match="did not converge"):
        fit = bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", data,
                           "binomial", backend="map", covariance={"herd": 0.41}, max_iter=2)
    assert not fit.converged and fit.info.iterations == 2


# -- outputs --------------------------------------------------------------------------------


def test_fit_info_and_tables(sleep_fit):
    info = sleep_fit.info
    assert info.backend == "map" and info.method == "MAP" and info.converged
    assert info.iterations == 1  # gaussian: one exact Newton step (the next decrement is 0)
    assert info.extra["newton_decrement"] <= 1e-14 and info.extra["grad_norm"] < 1e-8
    assert {"objective", "grad_norm", "solver", "passes"} <= set(info.extra)
    assert np.isfinite(sleep_fit.loglik)
    fe = sleep_fit.fixef()
    np.testing.assert_allclose(fe["std_error"], REML["fixef"]["std_error"], rtol=1e-6)
    vc = sleep_fit.varcorr()
    sd = vc[vc.kind == "sd"].estimate.to_numpy()
    np.testing.assert_allclose(sd, REML["random_effects"][0]["sd"], rtol=1e-12)
    assert len(sleep_fit.ranef()) == 36
    assert "MAP" in sleep_fit.summary()


def test_idata_names_and_draws(sleep_fit):
    post = sleep_fit.idata.posterior
    assert {"beta", "sigma", "sd_Subject", "cor_Subject", "b_Subject"} <= set(post.data_vars)
    assert post["b_Subject"].dims == ("chain", "draw", "Subject_level", "Subject_term")
    assert "Gaussian at the joint mode" in sleep_fit.idata.attrs["approximation"]
    assert "log_likelihood" in sleep_fit.idata.groups()
    # the draws are N(mode, H⁻¹): moments within Monte Carlo error (1000 draws)
    est = sleep_fit.estimates
    draws = post["beta"].values.reshape(-1, 2)
    se = est.beta_se
    assert np.all(np.abs(draws.mean(axis=0) - est.beta) < 4 * se / np.sqrt(len(draws)))
    assert np.all(np.abs(draws.std(axis=0) / se - 1) < 4 / np.sqrt(2 * len(draws)))
    b = post["b_Subject"].values.reshape(-1, 18, 2)
    te = est.terms[0]
    assert np.all(np.abs(b.mean(axis=0) - te.b) < 4.5 * te.b_sd / np.sqrt(len(b)))
    assert np.all(post["sigma"].values == SIGMA)


def test_predict_new_levels_and_population(sleep, sleep_fit):
    new = pd.DataFrame({"Days": [0, 5, 5], "Subject": ["308", "308", "unseen"]})
    pred = sleep_fit.predict(new)
    b308 = sleep_fit.estimates.term("Subject").b[list(sleep_fit.design.terms[0].levels.astype(
        str)).index("308")]
    beta = sleep_fit.estimates.beta
    assert pred.iloc[0] == pytest.approx(beta[0] + b308[0])
    assert pred.iloc[1] == pytest.approx(beta[0] + b308[0] + 5 * (beta[1] + b308[1]))
    assert pred.iloc[2] == pytest.approx(beta[0] + 5 * beta[1])  # population value
    fitted = sleep_fit.predict()
    assert len(fitted) == len(sleep)
