"""The Bayesian Laplace against long NUTS runs of the same model (same default priors), and
its behaviour on bad or awkward input.

References: tests/reference/nuts_posteriors.py (4 × 5000 NUTS draws per data set, Monte
Carlo error of a mean ≈ 0.01 posterior SD). Tolerances of the issue, in units of the NUTS
posterior SD: Gaussian models — mean within 0.1, SD within 10%, 5% / 95% quantiles within
0.15; GLMMs — 0.3, 25%, 0.4 (the Laplace approximation of p(y | ψ) and of u | ψ, β, y is
where their error shows). The Laplace side runs 4 × 2500 draws from 4096 importance points
(Gaussian models, ESS of the weights ≥ 2000: Monte Carlo error ≈ 0.02 SD for a mean and
≈ 0.05 SD for a 5% / 95% quantile of a skewed SD) or 2048 (GLMMs, whose 5–8 dimensions
(β is integrated with the SDs there) leave an ESS of ~30% of the points: ≈ 0.05 / 0.1 SD).
"""

import json
import sys
import warnings

import numpy as np
import pytest

import bayesmix as bm
from conftest import REFERENCE

sys.path.insert(0, str(REFERENCE))
from nuts_posteriors import CASES, summarise  # noqa: E402

REF = json.loads((REFERENCE / "nuts_posteriors.json").read_text())
GAUSSIAN_TOL = {"mean": 0.1, "sd": 0.10, "quantile": 0.15}
GLMM_TOL = {"mean": 0.3, "sd": 0.25, "quantile": 0.4}


def _laplace(dataset, **options):
    formula, family = CASES[dataset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.ConvergenceWarning)
        points = 4096 if family == "gaussian" else 2048
        return bm.fit(formula, bm.datasets.load(dataset), family, backend="laplace",
                      draws=2500, chains=4, seed=7, psi_points=points, **options)


def _discrepancies(ref: dict, got: dict) -> dict[str, dict[str, float]]:
    """Per scalar: |Δmean|/sd, |sd ratio − 1|, max |Δq|/sd, in units of the NUTS SD."""
    out = {}
    for key, r in ref.items():
        g = got[key]
        scale = r["sd"]
        out[key] = {"mean": abs(g["mean"] - r["mean"]) / scale,
                    "sd": abs(g["sd"] / scale - 1.0),
                    "quantile": max(abs(g["q05"] - r["q05"]), abs(g["q95"] - r["q95"])) / scale}
    return out


@pytest.mark.parametrize("dataset", list(CASES))
def test_laplace_posterior_agrees_with_long_nuts(dataset):
    ref = REF[dataset]
    fit = _laplace(dataset)
    assert fit.info.status != "not converged", fit.info.messages
    tol = GAUSSIAN_TOL if ref["family"] == "gaussian" else GLMM_TOL
    worst = {}
    for key, d in _discrepancies(ref["scalars"], summarise(fit.idata.posterior)).items():
        for what, value in d.items():
            if value > worst.get(what, (0.0, ""))[0]:
                worst[what] = (value, key)
    bad = {w: v for w, v in worst.items() if v[0] > tol[w]}
    assert not bad, f"{dataset}: worst discrepancies {worst} (tolerances {tol})"


# -- blme parity ---------------------------------------------------------------------------

BLME_CASES = {
    # id: (dataset, formula, family, priors, options)
    "sleepstudy_blmer_wishart_REML": (
        "sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", "blme", {}),
    "sleepstudy_blmer_wishart_normal_ML": (
        "sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian",
        bm.BlmePriors(fixef=bm.BlmeNormal((10, 2.5))), {"reml": False}),
    "Dyestuff2_blmer_gamma_REML": (
        "Dyestuff2", "Yield ~ 1 + (1 | Batch)", "gaussian",
        bm.BlmePriors(cov=bm.BlmeGamma(2.5, 0)), {}),
    "cbpp_bglmer_normal_gamma": (
        "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial",
        bm.BlmePriors(cov=bm.BlmeGamma(2.5, 0), fixef=bm.BlmeNormal((10, 2.5), False)), {}),
    "Contraception_bglmer_t": (
        "Contraception", "use ~ age + I(age^2) + urban + livch + (1 | district)", "bernoulli",
        bm.BlmePriors(fixef=bm.BlmeT()), {}),
}


@pytest.mark.parametrize("case_id", list(BLME_CASES))
def test_blme_posterior_modes(case_id):
    """blme's priors enter as blme's penalties: its posterior modes are reproduced.
    Linear models to 1e-5 relative (θ, β, σ; σ²R_X⁻¹R_X⁻ᵀ standard errors too). GLMMs to
    2e-3 relative in θ and 1e-3 absolute in β: bglmer's PIRLS stops at tolPwrss = 1e-7,
    which moves glmer's optimum by that much (tests/reference/glmer_tight.R); Contraception's
    fit stopped with max|grad| 3.5e-3 (its own warning), so only the objective is compared
    one-sided there beyond those tolerances."""
    from conftest import shared_fits

    dataset, formula, family, priors, options = BLME_CASES[case_id]
    ref = shared_fits(dataset)[case_id]
    fit = bm.fit(formula, bm.datasets.load(dataset), family, backend="laplace",
                 priors=priors, draws=0, **options)
    assert fit.converged and fit.info.method.startswith("blme")
    est = fit.estimates
    if family == "gaussian":
        np.testing.assert_allclose(est.theta, ref["theta"]["value"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(est.beta, ref["fixef"]["estimate"], rtol=1e-5)
        np.testing.assert_allclose(est.sigma, ref["sigma"], rtol=1e-5)
        np.testing.assert_allclose(fit.fixef()["std_error"], ref["fixef"]["std_error"],
                                   rtol=1e-4)
    else:
        np.testing.assert_allclose(est.theta, ref["theta"]["value"], rtol=2e-3)
        np.testing.assert_allclose(est.beta, ref["fixef"]["estimate"], atol=1e-3)
    assert "blme" in json.loads(fit.idata.attrs["priors"])


def test_blme_priors_are_refused_elsewhere():
    with pytest.raises(bm.PriorError, match="laplace backend computes"):
        bm.fit("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"), backend="nuts",
               priors="blme")


# -- the other integration strategies and the diagnostics ------------------------------------

def _worst(dataset, fit):
    worst = {}
    for d in _discrepancies(REF[dataset]["scalars"], summarise(fit.idata.posterior)).values():
        for what, value in d.items():
            worst[what] = max(worst.get(what, 0.0), value)
    return worst


@pytest.mark.parametrize("integrate", ["grid", pytest.param("nuts", marks=pytest.mark.slow)])
def test_grid_and_nuts_over_psi_agree_with_long_nuts(integrate):
    """Dyestuff (σ and one SD): the grid (spacing 0.25 in the Hessian's standardized
    coordinates, so the SDs' quantiles are within 0.125 of that unit) and NUTS over ψ meet
    the Gaussian tolerances. NUTS over ψ needs 4 × 1000 draws of ψ (ESS ≈ 3000) for the 5%
    quantile of an SD to be within them with room for its Monte Carlo error (≈ 0.08 SD at
    ESS 800); that takes ~70 s, so it is in the slow tier, and the default tier checks the
    same machinery through the "auto" fallback below."""
    fit = bm.fit("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"), backend="laplace",
                 draws=2500, chains=4, seed=3, integrate=integrate,
                 psi_points=4000 if integrate == "nuts" else None)
    assert fit.info.extra["integrate"] == integrate
    assert fit.info.status != "not converged", fit.info.messages
    if integrate == "grid":
        assert fit.info.extra["diagnostics"]["dz"] == 0.25
    else:
        assert fit.info.extra["diagnostics"]["min_ess"] >= 400
        assert float(fit.idata.attrs["psi_ess"]) == fit.info.extra["diagnostics"]["min_ess"]
    worst = _worst("Dyestuff", fit)
    assert all(worst[w] <= GAUSSIAN_TOL[w] for w in worst), worst


def _force_khat_rejection(monkeypatch):
    from bayesmix.backends.laplace import integrate

    monkeypatch.setattr(integrate, "khat_threshold", lambda points: -1.0)


def test_auto_turns_to_nuts_when_the_importance_weights_fail(monkeypatch):
    _force_khat_rejection(monkeypatch)
    fit = bm.fit("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"), backend="laplace",
                 draws=1000, chains=4, seed=5)
    assert fit.info.extra["integrate"] == "nuts"
    assert "k̂" in fit.info.extra["diagnostics"]["auto"]
    assert fit.info.status != "not converged", fit.info.messages
    worst = _worst("Dyestuff", fit)
    # 1000 draws of ψ (tail ESS ≈ 800): Monte Carlo errors ≈ 0.04 SD for a mean, ≈ 0.1 for
    # a 5% quantile of an SD; these bounds are the method's tolerance plus about 4 of them
    # (accuracy at a tight bound is the slow-tier test above).
    assert worst["mean"] < 0.25 and worst["sd"] < 0.25 and worst["quantile"] < 0.55, worst


def test_rejected_weights_are_a_clear_failure_when_nuts_is_too_slow(monkeypatch):
    from bayesmix.backends.laplace import bayes

    _force_khat_rejection(monkeypatch)
    monkeypatch.setattr(bayes, "_AUTO_NUTS_SECONDS", 0.0)
    with pytest.warns(bm.errors.ConvergenceWarning,
                      match=r"(?s)importance weights .* unreliable.*integrate='nuts'"):
        fit = bm.fit("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff"),
                     backend="laplace", draws=200, seed=5)
    assert fit.info.status == "not converged" and not fit.converged
    assert fit.info.extra["integrate"] == "importance"


def test_grid_refuses_too_many_parameters():
    with pytest.raises(bm.errors.OptionsError, match=r"integrate='grid' needs .* psi_max_points"):
        bm.fit("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy"),
               backend="laplace", integrate="grid", psi_max_points=64, draws=100)


def test_boundary_posterior_of_an_sd_is_reported():
    """Dyestuff2: lme4's fit is singular (sd(Batch) = 0); its posterior piles up towards 0,
    which the fit must say rather than return a posterior the prior alone decides."""
    with pytest.warns(bm.errors.ConvergenceWarning,
                      match=r"data alone put sd\(\(Intercept\)\|Batch\) at 0"):
        fit = bm.fit("Yield ~ 1 + (1 | Batch)", bm.datasets.load("Dyestuff2"),
                     backend="laplace", draws=500, seed=1)
    assert fit.info.status == "warnings"
