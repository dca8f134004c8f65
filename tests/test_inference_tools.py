"""coef, vcov, fitted, residuals, confint and anova against lme4
(tests/reference/lme4_tools.R, lme4_profile.R)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmix as bm

from conftest import REFERENCE

TOOLS = json.loads((REFERENCE / "lme4_tools.json").read_text())
PROFILE = {f["name"]: f for f in json.loads(
    (REFERENCE / "lme4_profile.json").read_text())["fits"]}
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp():
    return bm.fit(CBPP, bm.datasets.load("cbpp"), "binomial", priors="flat")


def test_glmm_fitted_residuals_coef_vcov_match_lme4(cbpp):
    """glmer's fitted values and residuals of every type, coef(), vcov() and z-test
    p-values. glmer's default optimizer stops 2.8e-4 below our log-likelihood here, which
    moves its estimates by ~5e-4 (relative) and the fitted values by up to 6e-4: the
    tolerance is 2e-3 relative (plus 3e-3 absolute for the scaled residuals, whose
    error is Δμ √(n / μ(1 − μ)), ~1.5e-3 here)."""
    ref = TOOLS["cbpp"]
    assert cbpp.loglik > -92.0265663895303  # glmer's (tests/reference/shared/cbpp.json)
    np.testing.assert_allclose(cbpp.fitted(), ref["fitted"], rtol=2e-3)
    for kind in ("response", "pearson", "deviance"):
        np.testing.assert_allclose(cbpp.residuals(kind), ref[kind], rtol=2e-3, atol=3e-3)
    coef = cbpp.coef()["herd"]
    assert list(coef.columns) == ["(Intercept)", "period2", "period3", "period4"]
    np.testing.assert_allclose(coef.to_numpy(), np.array(ref["coef_herd"]), rtol=2e-3)
    # Cov(β̂) from finite differences of the Laplace deviance over (θ, β) on both sides,
    # with different steps and at slightly different optima: 1–3% apart (the tolerance of
    # the GLMM standard errors in test_laplace_backend.py is 2e-2).
    np.testing.assert_allclose(cbpp.vcov().to_numpy(), ref["vcov"], rtol=3e-2)
    # Wald z tests as glmer's summary: |z| within those 2% (p-values in the far tail move
    # more), and p = 2Φ(−|z|) exactly.
    fe = cbpp.fixef()
    z_ref = stats.norm.isf(np.array(ref["z_p_values"]) / 2)
    np.testing.assert_allclose(np.abs(fe["statistic"]), z_ref, rtol=2e-2)
    np.testing.assert_allclose(fe["p_value"], 2 * stats.norm.sf(np.abs(fe["statistic"])))


def test_lmm_tools_and_aic_only_for_ml():
    ref = TOOLS["sleepstudy"]
    data = bm.datasets.load("sleepstudy")
    reml = bm.fit("Reaction ~ Days + (Days | Subject)", data, priors="flat")
    np.testing.assert_allclose(reml.fitted(), ref["fitted"], rtol=1e-5)
    np.testing.assert_allclose(reml.residuals("pearson"), ref["pearson"], rtol=1e-4,
                               atol=1e-4)
    # lmer's optimum and ours differ by ~1e-5 relative in θ: ~2e-5 ms/day in the slopes.
    np.testing.assert_allclose(reml.coef()["Subject"].to_numpy(),
                               np.array(ref["coef_subject"]), rtol=1e-5, atol=1e-4)
    assert "p_value" not in reml.fixef()  # lmer: t statistics without p-values
    assert reml.aic is None and reml.bic is None and "AIC" not in reml.summary()
    ml = bm.fit("Reaction ~ Days + (Days | Subject)", data, priors="flat", reml=False)
    assert ml.aic == pytest.approx(-2 * ml.loglik + 2 * 6)


def test_anova_refits_reml_by_ml_and_matches_lme4():
    ref = TOOLS["sleepstudy"]
    data = bm.datasets.load("sleepstudy")
    m0 = bm.fit("Reaction ~ Days + (1 | Subject)", data, priors="flat")
    m1 = bm.fit("Reaction ~ Days + (Days | Subject)", data, priors="flat")
    table = bm.anova(m1, m0)  # ordered by parameters, as lme4
    assert list(table["npar"]) == [4, 6]
    assert table.attrs["notes"] == [f"{m.design.formula}: refitted by ML" for m in (m1, m0)]
    np.testing.assert_allclose(table["logLik"], ref["anova_logLik"], rtol=1e-8)
    np.testing.assert_allclose(table["AIC"], ref["anova_AIC"], rtol=1e-8)
    assert table["Chisq"].iloc[1] == pytest.approx(ref["anova_chisq"], rel=1e-5)
    assert table["Df"].iloc[1] == ref["anova_df"]
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["anova_p"], rel=1e-4)


def test_anova_of_bayesian_fits_is_loo_and_kinds_do_not_mix():
    data = bm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b0 = bm.fit("Reaction ~ Days + (1 | Subject)", data, seed=1)
        b1 = bm.fit("Reaction ~ Days + (Days | Subject)", data, seed=1)
        table = bm.anova(b0, b1)
    assert {"elpd_loo", "p_loo", "weight"} <= set(table.columns)
    assert table.index[0] == "model2"  # random slopes predict better
    ml = bm.fit("Reaction ~ Days + (1 | Subject)", data, priors="flat", reml=False)
    with pytest.raises(bm.BayesmixError, match="fits of one kind"):
        bm.anova(ml, b1)
    with pytest.raises(bm.BayesmixError, match="two or more"):
        bm.anova(ml)


@pytest.mark.parametrize(("name", "formula", "dataset", "reml"), [
    ("sleepstudy_reml", "Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("penicillin_ml", "diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", False),
])
def test_profile_intervals_match_lme4(name, formula, dataset, reml):
    """confint(method="profile"): every bound within 1e-3 relative of lme4's (measured:
    ~1e-5; lme4 interpolates its profile by splines, we solve ζ(v) = ±z by Brent's
    method). lme4 profiles REML fits on the ML deviance too."""
    ref = PROFILE[name]
    fit = bm.fit(formula, bm.datasets.load(dataset), priors="flat", reml=reml)
    ci = fit.confint(method="profile")
    assert set(ci["method"]) == {"profile"}

    def ours(r_name):
        if r_name == "sigma":
            return "sigma"
        if r_name.startswith("sd_"):
            col, group = r_name[3:].split("|")
            return f"sd({col}|{group})"
        if r_name.startswith("cor_"):
            cols, group = r_name[4:].split("|")
            a, c = cols.split(".", 1)
            return f"cor({a},{c}|{group})"
        return f"beta[{r_name}]"

    for r_name, lo, hi in zip(ref["parameters"], ref["lower"], ref["upper"]):
        row = ci.loc[ours(r_name)]
        assert row["lower"] == pytest.approx(lo, rel=1e-3), r_name
        assert row["upper"] == pytest.approx(hi, rel=1e-3), r_name


def test_wald_and_posterior_intervals():
    data = bm.datasets.load("sleepstudy")
    ml = bm.fit("Reaction ~ Days + (Days | Subject)", data, priors="flat")
    wald = ml.confint()
    fe = ml.fixef()
    assert wald.loc["beta[Days]", "lower"] == pytest.approx(
        fe.loc["Days", "estimate"] - 1.959964 * fe.loc["Days", "std_error"])
    assert np.isnan(wald.loc["sigma", "lower"])  # as lme4's Wald: none for the variances
    with pytest.raises(bm.BayesmixError, match="reports the mode"):
        ml.confint(method="posterior")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayes = bm.fit("Reaction ~ Days + (Days | Subject)", data, seed=2)
    post = bayes.confint(level=0.9)
    draws = bayes.idata.posterior["sd_Subject"].values[..., 1].ravel()
    assert post.loc["sd(Days|Subject)", "upper"] == pytest.approx(np.quantile(draws, 0.95))
    assert set(post["method"]) == {"posterior"}
    with pytest.raises(bm.BayesmixError, match="linear mixed models"):
        bm.fit(CBPP, bm.datasets.load("cbpp"), "binomial", priors="flat").confint(
            method="profile")


def test_residuals_refuse_what_is_not_defined():
    wine = bm.fit("rating ~ temp + (1 | judge)", bm.datasets.load("wine"), "ordinal")
    with pytest.raises(bm.BayesmixError, match="not defined for the ordinal family"):
        wine.residuals()
    d = pd.read_csv(REFERENCE / "families_data.csv")
    nb = bm.fit("y_nb2 ~ x + (1 | g)", d, "negbinomial", priors="flat")
    with pytest.raises(bm.BayesmixError, match="use kind='pearson'"):
        nb.residuals("deviance")
    mu = nb.fitted().to_numpy()
    phi = nb.estimates.family_params["phi"]
    np.testing.assert_allclose(nb.residuals("pearson"),
                               (d["y_nb2"] - mu) / np.sqrt(mu + mu**2 / phi))
