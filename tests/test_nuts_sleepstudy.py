"""NUTS on sleepstudy against lme4, and the shape of a NUTS Fit."""

import json
import warnings

import numpy as np
import pytest

import bayesmix as bm
from conftest import shared_fits

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def fit():
    data = bm.datasets.load("sleepstudy")
    # The convergence checks of this one seeded run are not asserted (R-hat of 36 random
    # effects may exceed 1.01 by chance); the classification is tested on constructed draws in
    # test_nuts_diagnostics.py and its wiring in test_tables_and_info.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.ConvergenceWarning)
        return bm.fit(FORMULA, data, backend="nuts", draws=1000, tune=1000, chains=2,
                      seed=11, progressbar=False)


@pytest.fixture(scope="module")
def lme4():
    return shared_fits("sleepstudy")["sleepstudy_lmer_corr_REML"]


def test_fixed_effects_within_two_posterior_sds_of_lme4(fit, lme4):
    """With weakly informative priors the posterior of β is centred on lme4's REML estimate
    (flat-prior REML integrates β out exactly as the posterior does); 2 posterior SDs is the
    issue's tolerance, far wider than the Monte-Carlo error (SD/√ESS ≈ 0.03 SD here)."""
    table = fit.fixef()
    ref = dict(zip(lme4["fixef"]["names"], lme4["fixef"]["estimate"]))
    for name, est in ref.items():
        assert abs(table.loc[name, "estimate"] - est) < 2 * table.loc[name, "std_error"]
    # β's ESS in 2 × 1000 NUTS draws of this model is ~2000; 200 is far outside its spread.
    assert (table["ess_bulk"] > 200).all()


def test_correlation_interval_covers_lme4(fit, lme4):
    cor = fit.idata.posterior["cor_Subject"].values[..., 1, 0].ravel()
    lo, hi = np.quantile(cor, [0.03, 0.97])
    ref = lme4["random_effects"][0]["corr"][1][0]
    assert lo < ref < hi
    table = fit.varcorr()
    row = table[table["kind"] == "cor"].iloc[0]
    assert (row["term"], row["term2"]) == ("Days", "(Intercept)")
    assert row["hdi_3%"] < ref < row["hdi_97%"]


def test_sds_and_sigma_near_lme4(fit, lme4):
    """SDs: lme4's REML values lie inside the central 94% posterior intervals."""
    post = fit.idata.posterior
    sd = post["sd_Subject"].values.reshape(-1, 2)
    ref_sd = lme4["random_effects"][0]["sd"]
    for c in range(2):
        lo, hi = np.quantile(sd[:, c], [0.03, 0.97])
        assert lo < ref_sd[c] < hi
    sigma = post["sigma"].values.ravel()
    lo, hi = np.quantile(sigma, [0.03, 0.97])
    assert lo < lme4["sigma"] < hi


def test_inference_data_layout(fit):
    idata = fit.idata
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data",
                  "constant_data"):
        assert group in idata.groups()
    post = idata.posterior
    assert post["beta"].dims == ("chain", "draw", "coef")
    assert list(post["beta"].coords["coef"].values) == ["(Intercept)", "Days"]
    assert post["b_Subject"].shape == (2, 1000, 18, 2)
    assert post["cor_Subject"].dims == ("chain", "draw", "Subject_term", "Subject_term2")
    np.testing.assert_allclose(post["cor_Subject"].values[..., 0, 0], 1.0)
    assert idata.log_likelihood["y"].shape == (2, 1000, 180)
    assert idata.sample_stats["diverging"].shape == (2, 1000)
    assert set(idata.constant_data) >= {"X", "Subject_code"}
    assert idata.attrs["approximation"] == "exact (MCMC, NUTS)"
    assert idata.attrs["backend"] == "nuts"
    priors = json.loads(idata.attrs["priors"])
    assert priors["cor(Subject)"] == "LKJ(2) [default]"


def test_log_likelihood_is_the_gaussian_density_of_each_draw(fit):
    """log_likelihood.y at one draw equals N(y | Xβ + Zb, σ) computed from that draw."""
    from scipy import stats

    post, design = fit.idata.posterior, fit.design
    beta = post["beta"].values[1, 7]
    b = post["b_Subject"].values[1, 7]
    t = design.terms[0]
    eta = design.X @ beta + np.einsum("nr,nr->n", t.X, b[t.codes])
    ref = stats.norm.logpdf(design.y, eta, post["sigma"].values[1, 7])
    np.testing.assert_allclose(fit.idata.log_likelihood["y"].values[1, 7], ref, rtol=1e-10)


def _reassess(fit):
    """The diagnostics recomputed from what the fit stored."""
    from bayesmix.backends.nuts import diagnostics

    post = {k: v.values for k, v in fit.idata.posterior.items()}
    stats = {k: fit.idata.sample_stats[k].values
             for k in ("diverging", "reached_max_treedepth") if k in fit.idata.sample_stats}
    return diagnostics.assess(post, stats, chains=post["beta"].shape[0], max_treedepth=10,
                              skip_diagonal=("cor_Subject",))


def test_tables_and_info(fit):
    info = fit.info
    assert info.backend == "nuts" and info.method == "NUTS"
    # The status and messages are those of the diagnostics of the stored draws, whatever
    # this seeded run's R-hat happens to be.
    again = _reassess(fit)
    assert info.status == again.status and info.messages == again.messages
    assert info.converged == (info.status != "not converged")
    assert info.extra["max_rhat"] == again.summary["max_rhat"]
    assert set(info.timings) >= {"build", "compile", "sample"}
    vc = fit.varcorr()
    assert list(vc["kind"]) == ["sd", "sd", "cor", "sigma"]
    assert {"estimate", "std_error", "r_hat", "ess_bulk", "ess_tail"} <= set(vc.columns)
    re = fit.ranef()
    assert len(re) == 36 and set(re["term"]) == {"(Intercept)", "Days"}
    text = fit.summary()
    assert "Days" in text


def test_refit_reuses_the_compiled_model():
    data = bm.datasets.load("sleepstudy")
    design = bm.build_design("Reaction ~ Days + (1 | Subject)", data)
    spec = bm.model_spec(design)
    backend = bm.backends.get_backend("nuts")
    opts = bm.backends.make_options(backend, draws=100, tune=100, chains=1, seed=1,
                                    progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.ConvergenceWarning)  # 100 draws: may warn
        first = backend.fit(spec, opts)
        second = backend.fit(spec, opts)
    assert first.info.timings["compile"] > 0
    assert second.info.timings["compile"] == first.info.timings["compile"]  # cached
    np.testing.assert_array_equal(first.idata.posterior["beta"].values,
                                  second.idata.posterior["beta"].values)  # same seed


def test_poor_sampling_warns_with_advice():
    """Every diagnostic message is warned and kept in the fit; which ones a 30-draw run
    produces is left to the diagnostics (tested on constructed draws)."""
    data = bm.datasets.load("sleepstudy")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", bm.errors.ConvergenceWarning)
        fit = bm.fit("Reaction ~ Days + (1 | Subject)", data, backend="nuts", draws=30,
                     tune=30, chains=2, seed=3, progressbar=False)
    warned = [str(w.message) for w in rec if issubclass(w.category,
                                                         bm.errors.ConvergenceWarning)]
    assert tuple(warned) == fit.info.messages
    assert all("Increase draws" in m or "target_accept" in m or "Run longer" in m
               or "more draws" in m or "max_treedepth" in m for m in warned)
    assert "NOT CONVERGED" in fit.summary() or fit.info.status != "not converged"
