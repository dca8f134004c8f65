"""The shared result type across backends: same names, same tables, comparable numbers.

The anchor is an exact identity: for a linear mixed model, the MAP of (β, b) at the
covariance a Laplace (lmer) fit estimated is lmer's own β̂ (the GLS estimate) and b̂ (the
BLUPs), so the two backends must agree to rounding; their standard errors of β agree too
(both are σ²(RXᵀRX)⁻¹ at that covariance).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.results import naming

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def fits():
    data = bm.datasets.load("sleepstudy")
    laplace = bm.fit(FORMULA, data, backend="laplace", reml=True, draws=200, seed=1, priors="flat")
    map_fit = bm.fit(FORMULA, data, backend="map", covariance=laplace, draws=200, seed=1)
    return laplace, map_fit


def test_map_at_laplace_covariance_reproduces_lmer(fits):
    laplace, map_fit = fits
    a, b = laplace.fixef(), map_fit.fixef()
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-8)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-6)
    ra, rb = laplace.ranef(), map_fit.ranef()
    np.testing.assert_allclose(rb["estimate"], ra["estimate"], rtol=1e-7, atol=1e-8)
    # Conditional SDs differ by design: lmer's condVar conditions on β̂, the MAP's comes from
    # the joint Hessian of (β, b), which adds β's uncertainty; it can only be larger.
    assert (rb["std_error"] >= ra["std_error"] - 1e-9).all()


def test_tables_have_the_same_shape_and_names(fits):
    for fit in fits:
        fe = fit.fixef()
        assert list(fe.index) == ["(Intercept)", "Days"]
        assert {"estimate", "std_error"} <= set(fe.columns)
        vc = fit.varcorr()
        assert list(vc["kind"]) == ["sd", "sd", "cor", "sigma"]
        assert list(vc["group"]) == ["Subject", "Subject", "Subject", "Residual"]
        assert vc.loc[2, "term"] == "Days" and vc.loc[2, "term2"] == "(Intercept)"
        re = fit.ranef()
        assert len(re) == 36 and set(re["term"]) == {"(Intercept)", "Days"}
        assert re["level"].iloc[0] == "308"


def test_idata_uses_the_shared_names(fits):
    for fit in fits:
        post = fit.idata.posterior
        for var in (naming.BETA, naming.SIGMA, "sd_Subject", "cor_Subject", "b_Subject"):
            assert var in post, (fit.backend, var)
        assert post["b_Subject"].dims[2:] == ("Subject_level", "Subject_term")
        assert list(post["beta"].coords["coef"].values) == ["(Intercept)", "Days"]
        assert fit.idata.observed_data["y"].shape == (180,)
        assert fit.idata.attrs["backend"] == fit.backend
        assert fit.idata.attrs["approximation"]


def test_compare_lines_fits_up(fits):
    table = bm.compare(list(fits))
    assert list(table.columns.get_level_values(0).unique()) == ["laplace", "map"]
    assert "beta[Days]" in table.index and "sigma" in table.index
    assert "cor(Days,(Intercept)|Subject)" in table.index
    np.testing.assert_allclose(table[("laplace", "estimate")], table[("map", "estimate")],
                               rtol=1e-7)


def test_predict_new_levels_get_the_population_value(fits):
    laplace, _ = fits
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "new subject"]})
    pred = laplace.predict(new)
    est = laplace.estimates
    b308 = est.term("Subject").b[0]
    assert pred.iloc[0] == pytest.approx(est.beta[0] + b308[0])
    assert pred.iloc[1] == pytest.approx(est.beta[0] + 5 * est.beta[1])
    population = laplace.predict(new, include_random=False)
    assert population.iloc[0] == pytest.approx(est.beta[0])


def test_predict_refuses_unseen_fixed_factor_levels_and_matches_labels():
    """An unseen level of a fixed-effect factor has no coefficient: refused with the column
    and the level, never predicted as the reference level; a value equal to a fitted
    level's label (1 for the level "1") is that level, as R's predict matches labels."""
    cbpp = bm.datasets.load("cbpp")
    fit = bm.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 "binomial", priors="flat")
    with pytest.raises(bm.DataError, match=r"column 'period' .* 'banana' not seen when "
                                           r"fitting .*'1', '2', '3', '4'"):
        fit.predict(pd.DataFrame({"period": ["1", "banana"], "herd": ["1", "1"]}))
    as_text = fit.predict(pd.DataFrame({"period": ["2", "4"], "herd": ["1", "1"]}))
    as_int = fit.predict(pd.DataFrame({"period": [2, 4], "herd": ["1", "1"]}))
    np.testing.assert_array_equal(as_text.values, as_int.values)
    beta = fit.estimates.beta
    b1 = fit.estimates.term("herd").b[0, 0]
    np.testing.assert_allclose(fit.predict(pd.DataFrame({"period": [2], "herd": ["1"]}),
                                           kind="link"), beta[0] + beta[1] + b1)
    with pytest.raises(bm.DataError, match="new data lacks the column.*'period'"):
        fit.predict(pd.DataFrame({"herd": ["1"]}))


def test_predict_names_missing_values_and_wrong_types():
    fit = bm.fit(FORMULA, bm.datasets.load("sleepstudy"), priors="flat")
    with pytest.raises(bm.DataError, match="'Days' was numeric when fitting.*'five'"):
        fit.predict(pd.DataFrame({"Days": ["five"], "Subject": ["308"]}))
    with pytest.raises(bm.DataError, match="'Days' was numeric when fitting.*'1'"):
        fit.predict(pd.DataFrame({"Days": ["1"], "Subject": ["308"]}))
    with pytest.raises(bm.DataError, match="'Days' of the new data has missing values"):
        fit.predict(pd.DataFrame({"Days": [None, 1.0], "Subject": ["308", "308"]}))
    with pytest.raises(bm.DataError, match="'Subject' of term 'Subject' have missing"):
        fit.predict(pd.DataFrame({"Days": [1.0], "Subject": [None]}))


def test_summary_reports_fit_and_thresholds():
    wine = bm.datasets.load("wine")
    fit = bm.fit("rating ~ temp + contact + (1 | judge)", wine, "ordinal", backend="map",
                 covariance={"judge": [[1.0]]})
    text = fit.summary()
    assert "Thresholds:" in text and "1|2" in text
    assert "conditional log-likelihood" in text
    assert list(fit.thresholds().index) == ["1|2", "2|3", "3|4", "4|5"]
    with pytest.raises(bm.BayesmixError, match="ordinal family only"):
        bm.fit(FORMULA, bm.datasets.load("sleepstudy"), priors="flat").thresholds()


@pytest.mark.parametrize("backend", ["laplace", "map"])
def test_fit_design_and_spec_pickle_and_deepcopy(backend):
    """A Fit (with its Design and ModelSpec) survives pickle and deepcopy: the copy predicts
    exactly what the original does and prints the same summary."""
    import copy
    import pickle

    data = bm.datasets.load("sleepstudy")
    kw = {"covariance": {"Subject": [[600.0, 10.0], [10.0, 35.0]]}, "sigma": 25.0} \
        if backend == "map" else {}
    fit = bm.fit(FORMULA, data, backend=backend, **kw)
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "new subject"]})
    for other in (pickle.loads(pickle.dumps(fit)), copy.deepcopy(fit)):
        np.testing.assert_array_equal(other.predict(new).values, fit.predict(new).values)
        assert other.summary() == fit.summary()
        assert dict(other.spec.priors) == dict(fit.spec.priors)
    spec = pickle.loads(pickle.dumps(fit.spec))
    assert list(spec.sources) == list(fit.spec.sources)
    with pytest.raises(TypeError):
        spec.priors["Days"] = bm.Normal(0, 1)  # still read-only


def test_update_refits_the_same_model_on_new_data_or_with_a_change():
    data = bm.datasets.load("sleepstudy")
    fit = bm.fit(FORMULA, data, priors={"Days": bm.Normal(10, 2)}, seed=1, draws=500)
    sub = data[data["Days"] < 8]
    again = fit.update(sub)
    # The same model: every prior kept (the defaults as scaled to the first data set).
    direct = bm.fit(FORMULA, sub, priors=dict(fit.spec.priors), seed=1, draws=500)
    np.testing.assert_array_equal(again.fixef()["estimate"], direct.fixef()["estimate"])
    assert dict(again.spec.priors) == dict(fit.spec.priors)
    assert again.options == direct.options
    rescaled = fit.update(sub, priors="default")
    assert rescaled.spec.priors["(Intercept)"] != fit.spec.priors["(Intercept)"]
    flat = bm.fit(FORMULA, data, priors="flat")
    ml = flat.update(data, reml=False)
    assert ml.info.method == "ML" and ml.spec.all_flat
    simpler = flat.update(data, formula="Reaction ~ Days + (1 | Subject)")
    assert simpler.design.formula == "Reaction ~ Days + (1 | Subject)"
    with pytest.raises(bm.BayesmixError, match="update needs data"):
        flat.update()
    zi = bm.fit("count ~ mined + (1 | site)", bm.datasets.load("Salamanders"), "poisson",
                zi="~ mined", priors="flat")
    part = zi.update(bm.datasets.load("Salamanders").iloc[:400])
    assert part.design.zi_formula == "~ mined" and part.design.n == 400


def test_compare_table_has_thresholds_zero_inflation_and_family_rows_and_plots():
    import matplotlib

    matplotlib.use("Agg")
    wine = bm.datasets.load("wine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = bm.fit("rating ~ temp + (1 | judge)", wine, "ordinal")
        b = bm.fit("rating ~ temp + (1 | judge)", wine, "ordinal", backend="nuts",
                   draws=200, tune=200, chains=2, seed=1, progressbar=False)
    table = bm.compare({"clmm": a, "nuts": b})
    assert "threshold[1|2]" in table.index and "sd((Intercept)|judge)" in table.index
    assert np.isfinite(table.loc["sd((Intercept)|judge)", ("nuts", "std_error")])
    fig = bm.plot_compare({"clmm": a, "nuts": b})
    assert len(fig.axes) == 2 and len(fig.axes[0].get_yticklabels()) == len(table)
    sal = bm.datasets.load("Salamanders")
    zi = bm.fit("count ~ mined + (1 | site)", sal, "negbinomial", zi="~ mined",
                priors="flat")
    rows = bm.compare([zi]).index
    assert {"beta_zi[minedno]", "phi"} <= set(rows)


@pytest.mark.parametrize("factorization", ["blocked", "cholmod"])
def test_refits_on_the_same_pattern_reuse_the_symbolic_analysis(factorization):
    """update() on data with the same grouping structure (here a new response) reuses the
    symbolic analysis of ΛᵀZᵀWZΛ + I; the refit equals a fit from a fresh analysis."""
    from bayesmix.linalg import factor as F

    data = bm.datasets.load("sleepstudy")
    F._SYMBOLIC.clear()
    fit = bm.fit(FORMULA, data, priors="flat", factorization=factorization, draws=0)
    assert len(F._SYMBOLIC) == 1
    other = data.assign(Reaction=data["Reaction"].to_numpy()[::-1].copy())
    reused = fit.update(other)
    assert len(F._SYMBOLIC) == 1  # the same pattern: no new analysis
    F._SYMBOLIC.clear()
    fresh = bm.fit(FORMULA, other, priors="flat", factorization=factorization, draws=0)
    assert reused.loglik == fresh.loglik
    np.testing.assert_array_equal(reused.fixef()["estimate"], fresh.fixef()["estimate"])
