"""The latent-Gaussian engine under laplace and map, and the one way results are packed.

- map at laplace(nAGQ = 0)'s covariance is the same computation (the joint mode of (β, u) at a
  fixed θ): it must agree to 1e-8;
- laplace's GLMM standard errors are glmer's vcov() (2 H⁻¹ of the Laplace deviance over
  (θ, β), restricted to β) of the converged Laplace deviance (tests/reference/glmer_tight.R
  explains why glmer's default tolerance is not the reference), and the draws in idata have
  the covariance fixef() reports;
- every backend stores the log-likelihood the one shared function computes from its draws.
"""

import json
import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.results import naming
from bayesmix.results.loglik import pointwise_loglik
from conftest import REFERENCE, shared_fits

GLMER_TIGHT = json.loads((REFERENCE / "glmer_tight.json").read_text())
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.mark.parametrize(("formula", "data", "family", "options"), [
    (CBPP, "cbpp", "binomial", {"nagq": 0}),
    ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)", "grouseticks", "poisson",
     {"nagq": 0}),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian", {"reml": False}),
])
def test_map_at_laplace_covariance_is_the_laplace_mode(formula, data, family, options):
    """Both backends compute the joint mode of (β, b) at θ̂ (nAGQ = 0 and the Gaussian
    family put β in the mode): the same numbers to 1e-8."""
    frame = bm.datasets.load(data)
    lap = bm.fit(formula, frame, family, backend="laplace", draws=0, **options, priors="flat")
    mp = bm.fit(formula, frame, family, backend="map", covariance=lap, draws=0)
    np.testing.assert_allclose(mp.estimates.beta, lap.estimates.beta, rtol=1e-8, atol=1e-10)
    for a, b in zip(mp.estimates.terms, lap.estimates.terms):
        np.testing.assert_allclose(a.b, b.b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", sorted(GLMER_TIGHT))
def test_glmm_standard_errors_are_glmers_vcov(case):
    """Within 0.5% of glmer's vcov() with PIRLS converged (the estimates and log-likelihood
    to glmer's optimizer tolerance)."""
    ref = GLMER_TIGHT[case]
    data = bm.datasets.load(case)
    fit = bm.fit(ref["formula"], data, ref["family"], backend="laplace", draws=0, priors="flat")
    table = fit.fixef()
    assert list(table.index) == ref["fixef_names"]
    np.testing.assert_allclose(table["std_error"], ref["std_error"], rtol=5e-3)
    np.testing.assert_allclose(table["estimate"], ref["fixef"], rtol=2e-3, atol=2e-4)
    # glmer stopped at max|grad| 2.5e-3 on Contraception (its own warning); we may be higher.
    assert fit.loglik >= ref["logLik"] - 1e-6


def test_laplace_standard_errors_match_glmmtmb_on_cbpp():
    """glmmTMB's sdreport inverts the exact Hessian of the same Laplace approximation."""
    ref = shared_fits("cbpp")["cbpp_glmmTMB_Laplace"]
    fit = bm.fit(CBPP, bm.datasets.load("cbpp"), "binomial", backend="laplace", draws=0,
                 priors="flat")
    np.testing.assert_allclose(fit.fixef()["std_error"], ref["fixef"]["std_error"], rtol=1e-4)


@pytest.mark.parametrize(("formula", "data", "family"), [
    (CBPP, "cbpp", "binomial"),
    ("rating ~ temp + contact + (1 | judge)", "wine", "ordinal"),
])
def test_draws_have_the_covariance_fixef_reports(formula, data, family):
    """The SDs of 4 × 2000 draws against fixef()'s standard errors, within 4 Monte Carlo SEs
    (the relative SE of a sample SD is 1/√(2S) = 0.8%), and their means within 4 SE/√S."""
    fit = bm.fit(formula, bm.datasets.load(data), family, backend="laplace", draws=2000,
                 chains=4, seed=1, priors="flat")
    beta = fit.idata.posterior["beta"].values.reshape(-1, fit.design.p)
    se = fit.fixef()["std_error"].to_numpy()
    rtol = 4 / np.sqrt(2 * len(beta))
    np.testing.assert_allclose(beta.std(axis=0), se, rtol=rtol)
    np.testing.assert_allclose(beta.mean(axis=0), fit.fixef()["estimate"],
                               atol=4 * se.max() / np.sqrt(len(beta)))
    if family == "ordinal":
        cut = fit.idata.posterior["cutpoints"].values.reshape(len(beta), -1)
        np.testing.assert_allclose(cut.std(axis=0), fit.thresholds()["std_error"], rtol=rtol)


@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")
@pytest.mark.parametrize("backend", ["laplace", "map", "nuts"])
def test_every_backend_stores_the_shared_log_likelihood(backend):
    """idata.log_likelihood is exactly pointwise_loglik(design, posterior) of the stored
    draws, whatever the backend."""
    data = bm.datasets.load("cbpp")
    options = {"laplace": {}, "map": {"covariance": {"herd": 0.4}},
               "nuts": {"tune": 100, "chains": 1, "progressbar": False}}[backend]
    fit = bm.fit(CBPP, data, "binomial", backend=backend, draws=50, seed=3, **options)
    post = {k: v.values for k, v in fit.idata.posterior.items()}
    np.testing.assert_array_equal(fit.idata.log_likelihood["y"].values,
                                  pointwise_loglik(fit.design, post))


def test_log_likelihood_is_exact_in_the_tails():
    """Bernoulli y = 1 at η = −40: log p = −40 − log1p(e^−40), in every backend (the
    clipped-μ form gives log ε = −36.04)."""
    design = bm.build_design("y ~ 1 + (1 | g)", _tail_data(), "bernoulli")
    post = {naming.BETA: np.full((1, 1, 1), -40.0),
            naming.b_var("g"): np.zeros((1, 1, 2, 1))}
    ll = pointwise_loglik(design, post)[0, 0]
    np.testing.assert_allclose(ll[design.y == 1], -40.0 - np.log1p(np.exp(-40.0)), rtol=1e-14)
    np.testing.assert_allclose(ll[design.y == 0], -np.log1p(np.exp(-40.0)), rtol=1e-14)


def _tail_data():
    import pandas as pd

    return pd.DataFrame({"y": [0.0, 1.0, 0.0, 1.0], "g": ["a", "a", "b", "b"]})


def test_correlation_of_a_zero_variance_column_is_undefined_everywhere():
    """One rule: the correlation with a column of variance 0 is NaN (R's cov2cor), in map's
    given covariance and in laplace's singular estimates alike."""
    data = bm.datasets.load("sleepstudy")
    cov = np.array([[600.0, 0.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp = bm.fit("Reaction ~ Days + (Days | Subject)", data, backend="map",
                    covariance={"Subject": cov}, sigma=25.0, draws=0)
    assert np.isnan(mp.estimates.term("Subject").cor[1, 0])
    assert np.isnan(mp.varcorr().query("kind == 'cor'")["estimate"].iloc[0])
    from bayesmix.results.estimates import correlation

    assert np.isnan(correlation(cov)[0, 1]) and correlation(cov)[1, 1] == 1.0


def test_options_mean_the_same_in_every_backend():
    """draws, chains, seed, log_likelihood: one definition (DrawOptions), one validation."""
    from bayesmix.backends import get_backend
    from bayesmix.backends.options import DrawOptions

    for name in ("laplace", "map", "nuts"):
        options = get_backend(name).options
        assert issubclass(options, DrawOptions)
        fields = list(options.__dataclass_fields__)
        assert fields[:4] == ["draws", "chains", "seed", "log_likelihood"]
    for name, kwargs in (("laplace", {}), ("map", {"covariance": {"herd": 0.4}}),
                         ("nuts", {})):
        with pytest.raises(bm.OptionsError, match="seed must be an integer"):
            bm.backends.make_options(get_backend(name), seed="x", **kwargs)
        with pytest.raises(bm.OptionsError, match="log_likelihood must be"):
            bm.backends.make_options(get_backend(name), log_likelihood="yes", **kwargs)


def test_seed_reproduces_mode_based_draws():
    data = bm.datasets.load("cbpp")
    a = bm.fit(CBPP, data, "binomial", draws=20, seed=5, priors="flat")
    b = bm.fit(CBPP, data, "binomial", draws=20, seed=5, priors="flat")
    c = bm.fit(CBPP, data, "binomial", draws=20, seed=6, priors="flat")
    np.testing.assert_array_equal(a.idata.posterior["beta"], b.idata.posterior["beta"])
    assert not np.array_equal(a.idata.posterior["beta"], c.idata.posterior["beta"])


def _clmm_cases():
    logit = shared_fits("wine")["wine_clmm_Laplace"]
    probit = json.loads((REFERENCE / "clmm_probit.json").read_text())["wine_clmm_probit"]
    return {
        "logit": dict(thresholds=logit["thresholds"]["estimate"],
                      threshold_se=logit["thresholds"]["std_error"],
                      fixef=logit["fixef"]["estimate"], se=logit["fixef"]["std_error"],
                      sd=logit["random_effects"][0]["sd"][0], logLik=logit["logLik"]),
        "probit": dict(thresholds=probit["thresholds"],
                       threshold_se=probit["threshold_std_error"], fixef=probit["fixef"],
                       se=probit["std_error"], sd=probit["sd"], logLik=probit["logLik"]),
    }


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_ordinal_laplace_reproduces_clmm(link):
    """ordinal::clmm's Laplace fit of wine (logit: the shared reference; probit:
    tests/reference/clmm_probit.R): log-likelihood within 2e-3 (GLMM tolerance; the actual
    difference is ~4e-6), thresholds, β and the SD within 1e-3 relative, standard errors
    within 1e-3 relative (both invert a finite-difference Hessian of the same deviance)."""
    ref = _clmm_cases()[link]
    fit = bm.fit("rating ~ temp + contact + (1 | judge)", bm.datasets.load("wine"), "ordinal",
                 link=link, backend="laplace", draws=0, priors="flat")
    assert fit.converged and fit.info.method == "Laplace"
    assert abs(fit.loglik - ref["logLik"]) < 2e-3
    np.testing.assert_allclose(fit.thresholds()["estimate"], ref["thresholds"], rtol=1e-3)
    np.testing.assert_allclose(fit.fixef()["estimate"], ref["fixef"], rtol=1e-3)
    np.testing.assert_allclose(fit.varcorr()["estimate"].iloc[0], ref["sd"], rtol=1e-3)
    np.testing.assert_allclose(fit.fixef()["std_error"], ref["se"], rtol=1e-3)
    np.testing.assert_allclose(fit.thresholds()["std_error"], ref["threshold_se"], rtol=1e-3)
