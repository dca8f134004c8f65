"""Zero-inflated Poisson and NB2 (``zi=`` formula): the row kernel against SciPy, laplace
against glmmTMB, nuts and map against laplace, predictions, priors and bad input. The
Bayesian Laplace against long NUTS runs is in test_dispersion_families.py (cases zip, zinb)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import bayesmix
from bayesmix.families import kernels as K

from conftest import REFERENCE, shared_fits

DATA = pd.read_csv(REFERENCE / "families_data.csv")
SALAMANDERS = bayesmix.datasets.load("Salamanders")
OWN = {f["name"]: f for f in json.loads((REFERENCE / "glmmtmb_zi.json").read_text())["fits"]}
# reference: (data, formula, family, zi)
CASES = {
    "zip": (DATA, "y_zip ~ x + (1 | g)", "poisson", "~ x"),
    "zinb": (DATA, "y_zinb ~ x + (1 | g)", "negbinomial", "~ x"),
    "Salamanders_zinb": (SALAMANDERS, "count ~ mined + (1 | site)", "negbinomial", "~ mined"),
}


def _zi_mixture_logpmf(y, eta, zeta, count_logpmf):
    pi = special.expit(zeta)
    p = (1 - pi) * np.exp(count_logpmf(y, eta))
    return np.log(np.where(y == 0, pi + p, p))


@pytest.mark.parametrize(("code", "alpha", "count"), [
    (K.ZIPOISSON, [], lambda y, e: stats.poisson.logpmf(y, np.exp(e))),
    (K.ZINEGBIN2, [1.7], lambda y, e: stats.nbinom.logpmf(y, 1.7, 1.7 / (1.7 + np.exp(e)))),
])
def test_row_kernel_is_the_mixture_and_its_derivatives(code, alpha, count):
    """log p to 1e-9 relative against the mixture of SciPy's pmfs; g and h (the observed
    information, negative in some zero rows) against central differences (step 1e-5)."""
    alpha = np.array(alpha, dtype=float)
    negative = False
    for y in [0, 1, 4, 30]:
        const = K.row_constants(code, np.array([float(y)]), None)[0]
        for eta in [-3.0, 0.0, 1.2, 3.5]:
            for zeta in [-4.0, -0.5, 0.0, 2.0]:
                ll = K.row_loglik(code, K.LOG, float(y), eta, zeta, 1.0, 1.0, alpha, const)
                assert ll == pytest.approx(_zi_mixture_logpmf(y, eta, zeta, count),
                                           rel=1e-9, abs=1e-12)
                t = K.row_terms(code, K.LOG, float(y), eta, zeta, 1.0, 1.0, alpha)
                up = K.row_terms(code, K.LOG, float(y), eta + 1e-5, zeta, 1.0, 1.0, alpha)
                dn = K.row_terms(code, K.LOG, float(y), eta - 1e-5, zeta, 1.0, 1.0, alpha)
                assert t[1] == pytest.approx((up[0] - dn[0]) / 2e-5, rel=1e-5, abs=1e-6)
                assert t[2] == pytest.approx((up[1] - dn[1]) / 2e-5, rel=1e-5, abs=1e-6)
                negative |= t[2] < 0
    assert negative  # the case the mode's clipped Newton weights exist for


def _check(fit, ref, phi=None):
    # The tolerances: logLik 1e-3, coefficients and SDs 1e-3 relative, dispersion
    # 1e-2. Both programs maximise the same Laplace approximation; measured agreement is
    # ~1e-8 in logLik and ~1e-5 in the estimates (the optimizers' tolerances).
    assert fit.info.converged
    assert fit.info.loglik == pytest.approx(ref["logLik"], abs=1e-3)
    for table, key in ((fit.fixef(), "fixef"), (fit.zi_fixef(), "fixef_zi")):
        assert list(table.index) == ref[key]["names"]
        np.testing.assert_allclose(table["estimate"], ref[key]["estimate"], rtol=1e-3,
                                   atol=1e-5)
        # Finite differences of the Laplace deviance against TMB's exact Hessian.
        np.testing.assert_allclose(table["std_error"], ref[key]["std_error"], rtol=1e-3)
    vc = fit.varcorr()
    sd = ref["random_effects"][0]["sd"]
    assert vc.loc[vc.kind == "sd", "estimate"].item() == pytest.approx(
        sd[0] if isinstance(sd, list) else sd, rel=1e-3)
    if phi is not None:
        assert vc.loc[vc.kind == "phi", "estimate"].item() == pytest.approx(phi, rel=1e-2)


def test_salamanders_zip_matches_glmmtmb():
    ref = shared_fits("Salamanders")["Salamanders_glmmTMB_zipoisson"]
    fit = bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "poisson", zi="~ mined",
                       priors="flat")
    assert fit.design.family.name == "zero_inflated_poisson"
    _check(fit, ref)
    assert fit.info.df == ref["df"]
    assert fit.aic == pytest.approx(ref["AIC"], abs=2e-3)


@pytest.mark.parametrize("name", list(CASES))
def test_laplace_matches_own_glmmtmb_references(name):
    """tests/reference/glmmtmb_zi.R: simulated ZIP and ZINB with a covariate in the
    zero-inflation, and Salamanders' ZINB."""
    data, formula, family, zi = CASES[name]
    ref = OWN[name]
    fit = bayesmix.fit(formula, data, family, zi=zi, priors="flat")
    _check(fit, ref, ref["sigma_glmmTMB"] if family == "negbinomial" else None)
    # The draws carry the zero-inflation coefficients, so the pointwise log-likelihood is
    # the model's: at the estimates it sums to the conditional log-likelihood there.
    assert fit.idata.posterior["beta_zi"].shape[-1] == 2
    assert np.isfinite(fit.idata.log_likelihood["y"].values).all()


def test_family_names_and_default_zero_inflation_formula():
    fit = bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "zip", priors="flat")
    assert fit.design.zi_formula == "~ 1" and fit.design.zi_names == ("(Intercept)",)
    same = bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "poisson", zi="~1",
                        priors="flat")
    assert fit.loglik == pytest.approx(same.loglik, abs=1e-9)
    assert "Zero-inflation (logit π, ~ 1)" in fit.summary()


def test_predict_is_the_mean_including_zero_inflation():
    """E[y] = (1 − π) μ, π = expit(X_zi γ), μ = exp(η); at new data too."""
    fit = bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "negbinomial",
                       zi="~ mined", priors="flat")
    est = fit.estimates
    pi = special.expit(fit.design.X_zi @ est.zi_coef)
    np.testing.assert_allclose(fit.predict(), (1 - pi) * np.exp(fit.predict(kind="link")))
    new = pd.DataFrame({"mined": ["yes", "no"], "site": ["R-1", "unseen"]})
    got = fit.predict(new, include_random=False)
    beta, gamma = est.beta, est.zi_coef
    expect = [(1 - special.expit(gamma[0])) * np.exp(beta[0]),
              (1 - special.expit(gamma.sum())) * np.exp(beta.sum())]
    np.testing.assert_allclose(got, expect)
    # Observed mean of y vs the fitted means: the model is on the response's scale.
    assert fit.predict().mean() == pytest.approx(SALAMANDERS["count"].mean(), rel=0.05)


@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")
@pytest.mark.parametrize("name", ["zip", "zinb"])
def test_nuts_posterior_agrees_with_the_laplace_fit(name):
    """An independent coding of the likelihood (PyTensor): posterior means of β and γ
    within 0.5 standard errors of the maximum likelihood estimates (as the other families:
    Monte Carlo error < 0.08 SE with ≥ 200 effective draws; prior pull and skew < 0.2 SE),
    φ within 3 of its standard errors."""
    data, formula, family, zi = CASES[name]
    ml = bayesmix.fit(formula, data, family, zi=zi, priors="flat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = bayesmix.fit(formula, data, family, zi=zi, backend="nuts", draws=500,
                            chains=2, seed=11)
    for table in ("fixef", "zi_fixef"):
        a, b = getattr(ml, table)(), getattr(post, table)()
        z = (b["estimate"] - a["estimate"]) / a["std_error"]
        assert np.all(np.abs(z) < 0.5), (table, z)
    if family == "negbinomial":
        vc = post.varcorr().set_index("kind")
        se = ml.estimates.family_params_se["phi"]
        assert abs(vc.loc["phi", "estimate"] - ml.estimates.family_params["phi"]) < 3 * se


@pytest.mark.parametrize("name", ["zip", "zinb"])
def test_map_is_the_joint_mode_at_the_laplace_estimates(name):
    """map with the covariance, φ and γ of the laplace fit finds the joint mode of (β, b)
    that the factor-based PIRLS of the latent engine finds at them."""
    from bayesmix.latent import conditional_mode, latent_field, new_state, set_zero_inflation

    data, formula, family, zi = CASES[name]
    la = bayesmix.fit(formula, data, family, zi=zi, priors="flat")
    mp = bayesmix.fit(formula, data, family, zi=zi, backend="map", covariance=la)
    assert mp.info.converged
    np.testing.assert_array_equal(mp.estimates.zi_coef, la.estimates.zi_coef)
    state = new_state(latent_field(la.design), la.estimates.theta)
    if la.estimates.family_params:
        state.family_params = np.array(list(la.estimates.family_params.values()))
    set_zero_inflation(state, la.estimates.zi_coef)
    mode = conditional_mode(state, fixed_beta=False)
    np.testing.assert_allclose(mp.estimates.beta, mode.beta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mp.estimates.terms[0].b[:, 0],
                               mode.u * la.estimates.terms[0].sd[0], rtol=1e-6, atol=1e-8)
    by_name = bayesmix.fit(formula, data, family, zi=zi, backend="map", covariance=la,
                           zi_coef=dict(zip(la.design.zi_names, la.estimates.zi_coef)))
    np.testing.assert_array_equal(by_name.estimates.beta, mp.estimates.beta)


def test_map_needs_the_zero_inflation_coefficients():
    kw = dict(family="poisson", zi="~ x", backend="map", covariance={"g": 0.4})
    with pytest.raises(bayesmix.OptionsError, match=r"zi_coef=\{'\(Intercept\)': ..., 'x'"):
        bayesmix.fit("y_zip ~ x + (1 | g)", DATA, **kw)
    with pytest.raises(bayesmix.OptionsError, match=r"missing: \['x'\]"):
        bayesmix.fit("y_zip ~ x + (1 | g)", DATA, **kw, zi_coef={"(Intercept)": -1.0})
    with pytest.raises(bayesmix.OptionsError, match="zi_coef has 3 values"):
        bayesmix.fit("y_zip ~ x + (1 | g)", DATA, **kw, zi_coef=[1, 2, 3])
    with pytest.raises(bayesmix.OptionsError, match="zi_coef applies to zero-inflated"):
        bayesmix.fit("y_zip ~ x + (1 | g)", DATA, "poisson", backend="map",
                     covariance={"g": 0.4}, zi_coef=[1.0])


def test_priors_by_name_and_role():
    design = bayesmix.build_design("count ~ mined + (1 | site)", SALAMANDERS, "poisson",
                                   zi="~ mined")
    spec = bayesmix.model_spec(design)
    assert {"zi_(Intercept)", "zi_minedno"} <= set(spec.priors)
    # Autoscaled on the logit scale: the slope of a 0/1 column with SD s gets 2.5 / s.
    s = np.std(design.X_zi[:, 1], ddof=1)
    assert spec.priors["zi_minedno"].sigma == pytest.approx(2.5 / s)
    assert spec.priors["zi_(Intercept)"].mu == 0.0
    user = bayesmix.model_spec(design, {"zi": bayesmix.Normal(0, 1),
                                        "zi_Intercept": bayesmix.Normal(1, 2)})
    assert user.priors["zi_(Intercept)"] == bayesmix.Normal(1, 2)
    assert user.priors["zi_minedno"] == bayesmix.Normal(0, 1)
    with pytest.raises(bayesmix.PriorError, match="zi_minedno"):
        bayesmix.model_spec(design, {"zi_mined": bayesmix.Normal(0, 1)})


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(family="gaussian", zi="~ mined"), bayesmix.FamilyError,
     "zero-inflation .* applies to the poisson and negbinomial families"),
    (dict(family="poisson", zi="~ depth"), bayesmix.DataError, "depth"),
    (dict(family="poisson", zi="~ mined + (1 | site)"), bayesmix.DataError,
     "random term; zero-inflation takes fixed effects only"),
    (dict(family="poisson", zi="count ~ mined"), bayesmix.DataError, "left-hand side"),
    (dict(family="poisson", zi="~ "), bayesmix.DataError, "is empty"),
    (dict(family="poisson", zi=3), bayesmix.DataError, "one-sided formula"),
])
def test_bad_zero_inflation_formulas_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        bayesmix.build_design("count ~ mined + (1 | site)", SALAMANDERS, **kwargs)


def test_bad_counts_and_options_are_refused():
    df = pd.DataFrame({"y": [0, 1, 2.5, 0], "g": list("aabb")})
    with pytest.raises(bayesmix.FamilyError, match="non-negative integer counts"):
        bayesmix.build_design("y ~ 1 + (1 | g)", df, "poisson", zi="~ 1")
    with pytest.raises(bayesmix.OptionsError, match="nagq=5 is not available.*zero-infl"):
        bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "poisson", zi="~ mined",
                     priors="flat", nagq=5)
    fit = bayesmix.fit("count ~ mined + (1 | site)", SALAMANDERS, "poisson", priors="flat")
    with pytest.raises(bayesmix.BayesmixError, match="zero-inflated families only"):
        fit.zi_fixef()
