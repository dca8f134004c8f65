"""Bad or awkward input, one test per class: each is our error naming the column / term /
level and the fix, or a correct answer with a warning that explains it."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm

SLEEP = bm.datasets.load("sleepstudy")
RNG = np.random.default_rng(0)
BINARY = pd.DataFrame({"y": np.zeros(60), "x": RNG.normal(size=60),
                       "g": np.repeat(list("abcdef"), 10)})


# -- columns and types ------------------------------------------------------------------------

def test_column_names_and_types():
    dup = pd.concat([SLEEP, SLEEP[["Days"]]], axis=1)
    with pytest.raises(bm.DataError, match="several columns named 'Days'"):
        bm.build_design("Reaction ~ Days + (1 | Subject)", dup)
    stray = SLEEP.assign(Days=SLEEP["Days"].astype(object))
    stray.loc[3, "Days"] = "x"
    with pytest.raises(bm.DataError, match=r"'Days' holds both numbers and text \(e.g. 'x' "
                                           r"at row 3\)"):
        bm.build_design("Reaction ~ Days + (1 | Subject)", stray)
    with pytest.raises(bm.DataError, match="'weights' must hold numbers"):
        bm.build_design("Reaction ~ Days + (1 | Subject)", SLEEP, weights=np.array(["1"] * 180))
    with pytest.raises(bm.DataError, match="'w' must hold numbers"):
        bm.build_design("Reaction ~ Days + (1 | Subject)", SLEEP.assign(w="a"), weights="w")
    # Integer and Unicode column names: written as R would, they work.
    ints = pd.DataFrame({0: SLEEP["Reaction"], 1: SLEEP["Days"], 2: SLEEP["Subject"]})
    fit = bm.fit("`0` ~ `1` + (1 | `2`)", ints, priors="flat")
    ref = bm.fit("Reaction ~ Days + (1 | Subject)", SLEEP, priors="flat")
    np.testing.assert_allclose(fit.fixef()["estimate"], ref.fixef()["estimate"])
    assert list(fit.fixef().index) == ["(Intercept)", "1"]
    for name in ("受试者", "lot.é"):
        fit = bm.fit(f"Reaction ~ Days + (1 | {name})", SLEEP.rename(columns={"Subject": name}),
                     priors="flat")
        assert fit.loglik == pytest.approx(ref.loglik)


def test_logical_predictors_are_named_and_coded_as_r():
    data = SLEEP.assign(flag=SLEEP["Days"] > 4)
    fit = bm.fit("Reaction ~ I(Days > 2) + flag + (1 | Subject)", data, priors="flat")
    assert list(fit.fixef().index) == ["(Intercept)", "I(Days > 2)TRUE", "flagTRUE"]
    both = bm.fit("Reaction ~ 0 + flag + (1 | Subject)", data, priors="flat")
    assert list(both.fixef().index) == ["flagFALSE", "flagTRUE"]  # R's model.matrix


# -- formulas -----------------------------------------------------------------------------------

def test_formula_terms_that_cannot_be_fitted():
    with pytest.raises(bm.FormulaError, match=r"\(0 \| Subject\) has no columns.*\(1 \| "
                                              r"Subject\)"):
        bm.build_design("Reaction ~ Days + (0 | Subject)", SLEEP)
    with pytest.raises(bm.DataError, match="'exp' in the fixed effects 'exp' is a function, "
                                           "not a column"):
        bm.build_design("Reaction ~ exp + (1 | Subject)", SLEEP)
    few = pd.DataFrame({"y": RNG.normal(size=30), **{f"x{k}": RNG.normal(size=30)
                                                     for k in range(1, 6)},
                        "g": np.repeat(list("abc"), 10)})
    with pytest.raises(bm.DataError, match="has 6 columns but 'g' has 3 levels.*21 "
                                           "parameters.*use \\|\\|"):
        bm.fit("y ~ 1 + (1 + x1 + x2 + x3 + x4 + x5 | g)", few, priors="flat")
    wide = pd.DataFrame({"y": RNG.normal(size=6), **{f"x{k}": RNG.normal(size=6)
                                                     for k in range(9)}, "g": list("aabbcc")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.RankDeficiencyWarning)
        with pytest.raises(bm.DataError, match="6 rows for 6 fixed-effect columns"):
            bm.fit("y ~ " + " + ".join(f"x{k}" for k in range(9)) + " + (1 | g)", wide,
                   priors="flat")


# -- responses without a finite maximum-likelihood estimate --------------------------------------

@pytest.mark.parametrize(("family", "backend"), [("bernoulli", "laplace"),
                                                 ("poisson", "laplace"),
                                                 ("poisson", "map")])
def test_constant_response_is_refused_with_flat_priors(family, backend):
    kw = {"covariance": {"g": 0.5}} if backend == "map" else {"priors": "flat"}
    with pytest.raises(bm.DataError, match="(no successes|0 in every row).*intercept is "
                                           "infinite.*proper priors"):
        bm.fit("y ~ x + (1 | g)", BINARY, family, backend=backend, **kw)
    with pytest.raises(bm.DataError, match="'y' is constant.*no variation"):
        bm.fit("y ~ x + (1 | g)", BINARY, priors="flat")


def test_constant_response_with_priors_has_a_posterior():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit("y ~ x + (1 | g)", BINARY, "bernoulli", seed=1)
    assert fit.fixef().loc["(Intercept)", "estimate"] < -3  # the prior keeps it finite


def test_separation_is_named_in_every_flat_backend():
    sep = BINARY.assign(y=(BINARY["x"] > 0).astype(float))
    with pytest.raises(bm.DataError, match="infinite estimates.*separated.*Normal prior"):
        bm.fit("y ~ x + (1 | g)", sep, "bernoulli", priors="flat")
    with pytest.warns(bm.errors.ConvergenceWarning, match="infinite estimates for x"):
        bm.fit("y ~ x + (1 | g)", sep, "bernoulli", backend="map", covariance={"g": 0.5})
    # A level with only zeros: the Poisson coefficient of that level is −∞.
    level = pd.DataFrame({"y": np.r_[np.zeros(20), RNG.poisson(3, 40)],
                          "f": np.repeat(["a", "b", "c"], 20),
                          "g": np.tile(list("uvwxy"), 12)})
    with pytest.warns(bm.errors.ConvergenceWarning, match="infinite estimates"):
        fit = bm.fit("y ~ f + (1 | g)", level, "poisson", priors="flat")
    assert fit.info.status == "not converged"


def test_zero_trials_rows_are_dropped_with_a_warning():
    cbpp = bm.datasets.load("cbpp").copy()
    cbpp.loc[0, ["incidence", "size"]] = 0
    with pytest.warns(bm.errors.MissingValuesWarning, match="dropped 1 of 56 rows with 0 "
                                                            "trials"):
        fit = bm.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                     "binomial", priors="flat")
    ref = bm.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp.iloc[1:],
                 "binomial", priors="flat")
    assert fit.loglik == pytest.approx(ref.loglik, abs=1e-8)


# -- scales ------------------------------------------------------------------------------------

def test_extreme_scales_warn_and_a_broken_factorization_names_its_cause():
    with pytest.warns(bm.errors.ScaleWarning, match="'Days' has SD 2.8[0-9e+]*08"):
        bm.build_design("Reaction ~ Days + (1 | Subject)", SLEEP.assign(Days=SLEEP.Days * 1e8))
    with pytest.warns(bm.errors.ScaleWarning, match="the response has SD"):
        bm.build_design("Reaction ~ Days + (1 | Subject)",
                        SLEEP.assign(Reaction=SLEEP.Reaction * 1e-8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.errors.ScaleWarning)
        with pytest.raises(bm.DataError, match="factorization.*broke down.*Days \\(Subject\\)"
                                               ".*rescale"):
            bm.fit("Reaction ~ Days + (Days | Subject)", SLEEP.assign(Days=SLEEP.Days * 1e8),
                   priors="flat")


def test_tables_keep_full_precision():
    small = SLEEP.assign(Reaction=SLEEP.Reaction * 1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit("Reaction ~ Days + (1 | Subject)", small, backend="nuts", draws=100,
                     tune=100, chains=1, seed=1, progressbar=False)
    est = fit.fixef().loc["Days", "estimate"]
    assert est == pytest.approx(float(fit.idata.posterior["beta"].values[..., 1].mean()))
    assert round(est, 3) != est  # not rounded to 3 decimals


def test_predict_reports_rows_at_the_population_value():
    fit = bm.fit("Reaction ~ Days + (1 | Subject)", SLEEP, priors="flat")
    new = pd.DataFrame({"Days": [1.0, 2.0, 3.0], "Subject": ["308", "new", "new"]})
    with pytest.warns(bm.errors.BayesmixWarning, match="2 rows of 1 new levels of 'Subject' "
                                                       "are predicted at the population"):
        fit.predict(new)
