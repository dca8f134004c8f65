"""The Laplace backend beyond the shared references: weights, offsets, links, options, errors,
non-convergence, the InferenceData it returns, and its family kernels.

Reference values for weights / offsets / probit / cloglog come from
``tests/reference/laplace_extra.R`` (lme4 1.1-31), with the tolerances of
test_laplace_reference.py.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import bayesmix
from bayesmix.errors import ConvergenceWarning, FamilyError, OptionsError, PriorError

from conftest import REFERENCE

EXTRA = {f["id"]: f for f in json.loads(
    (REFERENCE / "laplace_extra.json").read_text())["fits"]}


def _sleepstudy_weighted():
    data = bayesmix.datasets.load("sleepstudy")
    data["w"] = 1.0 + data.Days % 3
    return data


def _cbpp():
    data = bayesmix.datasets.load("cbpp")
    data["w"] = 1.0 + (data.herd.cat.codes + 1) % 2
    return data


def _extra_fit(fit_id):
    if fit_id.startswith("sleepstudy"):
        return bayesmix.fit("Reaction ~ Days + (Days | Subject)", _sleepstudy_weighted(),
                            weights="w", reml=fit_id.endswith("REML"), draws=0, priors="flat")
    if "poisson" in fit_id:
        return bayesmix.fit("incidence ~ period + offset(log(size)) + (1 | herd)", _cbpp(),
                            "poisson", weights="w" if "weighted" in fit_id else None,
                            draws=0, priors="flat")
    link = fit_id.split("_")[2]
    return bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", _cbpp(),
                        "binomial", link=link, nagq=0 if fit_id.endswith("nAGQ0") else 1,
                        draws=0, priors="flat")


@pytest.mark.parametrize("fit_id", list(EXTRA))
def test_weights_offsets_links_match_lme4(fit_id):
    ref = EXTRA[fit_id]
    fit = _extra_fit(fit_id)
    lmm = ref["method"] in ("REML", "ML")
    assert fit.converged and fit.info.method == ref["method"]
    if lmm:
        assert abs(fit.loglik / ref["logLik"] - 1) < 1e-6
    else:
        assert abs(fit.loglik - ref["logLik"]) < 2e-3
    fe = fit.fixef()
    assert np.allclose(fe["estimate"], ref["fixef"]["estimate"], rtol=1e-3, atol=0)
    assert np.allclose(fe["std_error"], ref["fixef"]["std_error"],
                       rtol=1e-4 if lmm else 2e-2, atol=0)
    assert np.allclose(fit.estimates.theta, ref["theta"], atol=2e-4 if lmm else 1e-3)


# -- options and errors --------------------------------------------------------------------

def test_default_priors_are_bayesian_flat_is_lme4_and_t_on_beta_is_refused():
    data = bayesmix.datasets.load("Dyestuff")
    fit = bayesmix.fit("Yield ~ 1 + (1 | Batch)", data, backend="laplace", draws=0,
                       priors="flat")
    assert fit.spec.all_flat and fit.info.method == "REML"
    bayes = bayesmix.fit("Yield ~ 1 + (1 | Batch)", data, backend="laplace", draws=50, seed=1)
    assert not bayes.spec.all_flat and bayes.info.method.startswith("Bayesian Laplace")
    assert bayes.idata.attrs["inference"] == "posterior" and bayes.estimates is None
    with pytest.raises(PriorError, match="(?s)laplace.*cannot honour.*StudentT.*nuts"):
        bayesmix.fit("Yield ~ 1 + (1 | Batch)", data, backend="laplace",
                     priors={"(Intercept)": bayesmix.StudentT(3, 0, 10)})
    with pytest.raises(OptionsError, match="reml applies to flat priors"):
        bayesmix.fit("Yield ~ 1 + (1 | Batch)", data, backend="laplace", reml=True)


@pytest.mark.parametrize(("options", "match"), [
    ({"nagq": 101}, "nagq must be an integer from 0 to 100"),
    ({"nagq": -1}, "nagq must be an integer from 0 to 100"),
    ({"optimizer": "nelder"}, "unknown optimizer"),
    ({"factorization": "metis"}, "unknown factorization"),
    ({"draws": -5}, "draws must be an integer"),
    ({"ftol": 0}, "ftol must be a positive number"),
    ({"reml": "yes"}, "reml must be True, False or None"),
    ({"flavour": 1}, "unknown option 'flavour'.*valid options: .*reml, nagq"),
])
def test_bad_options_are_clear_errors(options, match):
    with pytest.raises(OptionsError, match=match):
        bayesmix.fit("Yield ~ 1 + (1 | Batch)", bayesmix.datasets.load("Dyestuff"),
                     backend="laplace", **options, priors="flat")


def test_model_errors_name_the_fix():
    cbpp = _cbpp()
    with pytest.raises(OptionsError, match="reml=True applies to linear mixed models"):
        bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                     "binomial", reml=True, priors="flat")
    with pytest.raises(OptionsError, match="nagq=0 is not available for the ordinal"):
        bayesmix.fit("rating ~ temp + (1 | judge)", bayesmix.datasets.load("wine"),
                     "ordinal", backend="laplace", nagq=0, priors="flat")
    with pytest.raises(FamilyError, match="identity link"):
        bayesmix.fit("incidence ~ period + (1 | herd)", cbpp, "gaussian", link="log",
                     priors="flat")


def test_non_convergence_is_reported():
    data = bayesmix.datasets.load("sleepstudy")
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        # ML (REML on this balanced design starts at its optimum): 4 evaluations needed.
        fit = bayesmix.fit("Reaction ~ Days + (Days | Subject)", data, max_evals=2,
                           draws=0, reml=False, priors="flat")
    assert not fit.converged
    assert any("did not converge" in m and "max_evals" in m for m in fit.info.messages)
    assert "NOT CONVERGED" in fit.summary()


@pytest.mark.parametrize("optimizer", ["lbfgsb", "powell"])
def test_alternative_optimizers_reach_the_same_optimum(optimizer):
    data = bayesmix.datasets.load("sleepstudy")
    a = bayesmix.fit("Reaction ~ Days + (Days | Subject)", data, draws=0, priors="flat")
    b = bayesmix.fit("Reaction ~ Days + (Days | Subject)", data, draws=0,
                     optimizer=optimizer, priors="flat")
    assert abs(a.loglik - b.loglik) < 1e-6
    assert np.allclose(a.estimates.theta, b.estimates.theta, atol=1e-3)


@pytest.mark.parametrize("method", ["blocked", "cholmod"])
def test_factorizations_give_the_same_fit(method):
    data = bayesmix.datasets.load("Penicillin")
    fit = bayesmix.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", data,
                       factorization=method, draws=0, priors="flat")
    assert fit.info.extra["factorization"].startswith(method)
    assert abs(fit.loglik - -165.430294499802) < 1e-6


# -- the InferenceData -----------------------------------------------------------------------

def test_idata_is_the_labelled_gaussian_approximation():
    data = bayesmix.datasets.load("sleepstudy")
    fit = bayesmix.fit("Reaction ~ Days + (Days | Subject)", data, draws=4000, seed=1,
                       priors="flat")
    idata = fit.idata
    assert idata.attrs["backend"] == "laplace"
    assert "Gaussian approximation at the mode" in idata.attrs["approximation"]
    post = idata.posterior
    assert set(post.data_vars) == {"beta", "sigma", "sd_Subject", "cor_Subject", "b_Subject"}
    assert post["b_Subject"].shape == (1, 4000, 18, 2)
    assert idata.log_likelihood["y"].shape == (1, 4000, 180)
    # β draws: mean β̂ and covariance lme4's vcov, within Monte-Carlo error (4000 draws:
    # the SD of a mean is SE/63, of an SD about SE/90; bounds at 4 of those).
    beta = post["beta"].values.reshape(-1, 2)
    se = fit.fixef()["std_error"].to_numpy()
    assert np.all(np.abs(beta.mean(0) - fit.fixef()["estimate"].to_numpy()) < 4 * se / 63)
    assert np.all(np.abs(beta.std(0) / se - 1) < 4 / 90)
    # b draws: centred on the conditional modes with at least the conditional SDs (the
    # draws add the uncertainty of β, which lme4's condVar leaves out).
    b = post["b_Subject"].values.reshape(-1, 18, 2)
    te = fit.estimates.term("Subject")
    assert np.max(np.abs(b.mean(0) - te.b) / te.b_sd) < 0.12
    assert np.all(b.std(0) > 0.95 * te.b_sd)
    assert np.allclose(post["sd_Subject"].values[0, 0], te.sd)
    # The log-likelihood at the mode-draw equals the Gaussian density of the residuals.
    ll = idata.log_likelihood["y"].values[0]
    assert np.all(np.isfinite(ll)) and ll.shape == (4000, 180)


@pytest.mark.parametrize(("formula", "data", "family"), [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian"),
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
])
def test_pointwise_loglik_of_the_draws_matches_the_family(formula, data, family):
    """The numba pass over (draws, rows) equals the family's log-likelihood at η of each draw
    (prior weights included: they divide the variance, or multiply the log-likelihood)."""
    data = _cbpp() if data == "cbpp" else bayesmix.datasets.load(data)
    data["w"] = 1.0 + np.arange(len(data)) % 3
    fit = bayesmix.fit(formula, data, family, weights="w", draws=3, seed=2, priors="flat")
    design, post = fit.design, fit.idata.posterior
    fam = design.family
    for s in range(3):
        eta = design.X @ post["beta"].values[0, s]
        for term in design.terms:
            b = post[f"b_{term.label}"].values[0, s]
            eta += np.sum(term.X * b[term.codes], axis=1)
        w = data["w"].to_numpy(float)
        if family == "gaussian":
            want = fam.loglik(design.y, eta, None, fit.estimates.sigma / np.sqrt(w))
        else:
            want = w * fam.loglik(design.y, fam.link.inverse(eta), design.trials)
        got = fit.idata.log_likelihood["y"].values[0, s]
        assert np.allclose(got, want, rtol=1e-10, atol=1e-10)


def test_draws_zero_stores_the_mode_only():
    """draws=0: no posterior group; the estimates live in the ``mode`` group and the tables
    and predictions read them from there."""
    fit = bayesmix.fit("incidence ~ period + (1 | herd)", _cbpp(), "poisson", draws=0,
                       priors="flat")
    assert "posterior" not in fit.idata.groups() and "mode" in fit.idata.groups()
    mode = fit.idata["mode"]
    assert np.allclose(mode["beta"].values, fit.estimates.beta)
    assert np.allclose(mode["b_herd"].values, fit.estimates.term("herd").b)
    assert np.allclose(fit.fixef()["estimate"].values, mode["beta"].values)
    eta = fit.design.X @ fit.estimates.beta + fit.estimates.term("herd").b[
        fit.design.terms[0].codes, 0]
    assert np.allclose(fit.predict().to_numpy(), np.exp(eta))


def test_tables_and_summary():
    fit = bayesmix.fit("Reaction ~ Days + (Days | Subject)", bayesmix.datasets.load(
        "sleepstudy"), draws=0, priors="flat")
    vc = fit.varcorr()
    assert list(vc.kind) == ["sd", "sd", "cor", "sigma"]
    assert {"group", "term", "term2", "kind", "estimate"} <= set(vc.columns)
    re = fit.ranef()
    assert len(re) == 36 and np.all(re.std_error > 0)
    text = fit.summary()
    assert "REML" in text and "Subject" in text
    assert fit.info.df == 6 and fit.info.extra["optimizer"]


def test_reference_objective_is_reproducible_with_warm_starts():
    """The objective does not depend on the PIRLS starting point (tight convergence)."""
    from bayesmix.backends.laplace.objective import GlmmObjective
    from bayesmix.latent import latent_field, new_state

    design = bayesmix.build_design("incidence ~ period + (1 | herd)", _cbpp(), "poisson")
    obj = GlmmObjective(new_state(latent_field(design)), 1)
    x = np.array([0.5, -1.5, -0.9, -1.0, -1.4])
    first = obj(x)
    obj(x + np.array([2.0, 1.0, -1.0, 0.5, 0.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert abs(obj(x) - first) < 1e-9
