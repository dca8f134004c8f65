"""Prediction with uncertainty, simulation and the posterior predictive distribution."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import bayesmix as bm
from bayesmix.families.sampling import ordinal_probabilities, sample_response

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    data = bm.datasets.load("sleepstudy")
    return data, bm.fit(FORMULA, data, priors="flat", draws=4000, seed=3)


@pytest.mark.parametrize(("family", "link", "params", "eta"), [
    ("gaussian", None, {"sigma": 1.5}, 0.7),
    ("bernoulli", None, {}, 0.4),
    ("poisson", None, {}, 1.1),
    ("negbinomial", None, {"phi": 2.5}, 1.1),
    ("negbinomial1", None, {"phi": 1.5}, 1.1),
    ("gamma", "log", {"phi": 3.0}, 0.5),
    ("gamma", "inverse", {"phi": 3.0}, 0.8),
    ("beta", None, {"phi": 12.0}, -0.3),
    ("student_t", None, {"sigma": 1.2, "nu": 12.0}, 0.3),
    ("lognormal", None, {"sigma": 0.4}, 0.2),
    ("zero_inflated_negbinomial", None, {"phi": 2.5}, 1.1),
])
def test_simulated_moments_match_the_family(family, link, params, eta):
    """200 000 draws at one η: the sample mean within 4.5 Monte Carlo SEs of the family's
    mean, and the sample variance within 4.5 SEs of its variance (the SE of a variance
    from the sample fourth moment)."""
    fam = bm.get_family(family, link)
    rng = np.random.default_rng(1)
    n = 200_000
    kw = {}
    extra = {}
    if fam.zero_inflated:
        kw["zeta"] = np.full(n, -0.5)
        extra["zi_prob"] = special.expit(-0.5)
    y = sample_response(fam, np.full(n, eta), rng, params=params, **kw)
    mu_eta = fam.link.inverse(np.array(eta))
    mean = fam.mean(np.array(eta), params={**params, **extra})
    var = fam.variance(mu_eta, params={**params, **extra})
    if family == "lognormal":
        var = fam.variance(np.array(eta), params=params)
    if family == "gaussian":
        var = params["sigma"] ** 2
    assert abs(y.mean() - mean) < 4.5 * np.sqrt(var / n)
    m4 = np.mean((y - y.mean()) ** 4)
    assert abs(y.var() - var) < 4.5 * np.sqrt((m4 - y.var() ** 2) / n)


def test_ordinal_and_binomial_draws():
    rng = np.random.default_rng(2)
    cut = np.array([-1.0, 0.5, 2.0])
    for link in ("logit", "probit"):
        fam = bm.get_family("ordinal", link)
        y = sample_response(fam, np.full(100_000, 0.3), rng, cutpoints=cut)
        p = ordinal_probabilities(np.array([0.3]), cut, link)[0]
        freq = np.bincount(y.astype(int), minlength=4) / len(y)
        assert np.all(np.abs(freq - p) < 4.5 * np.sqrt(p * (1 - p) / len(y)))
    cdf = stats.norm.cdf(cut - 0.3)
    np.testing.assert_allclose(p, np.diff(np.concatenate([[0], cdf, [1]])))
    y = sample_response(bm.get_family("binomial"), np.full(50_000, 0.2), rng,
                        trials=np.full(50_000, 7.0))
    assert y.max() <= 7 and abs(y.mean() - 7 * special.expit(0.2)) < 0.03


def test_interval_of_the_population_mean_is_the_gaussian_at_the_mode(sleep):
    """With include_random=False the draws of Xβ are N(Xβ̂, X Cov(β̂) Xᵀ): their 90%
    interval matches the Gaussian's quantiles to the Monte Carlo error of 4000 draws
    (about 0.04 SD at the 5% quantile)."""
    _, fit = sleep
    new = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": ["308"] * 3})
    got = fit.predict(new, include_random=False, interval=0.9)
    est = fit.estimates
    X = np.column_stack([np.ones(3), new["Days"]])
    sd = np.sqrt(np.einsum("ij,jk,ik->i", X, est.beta_cov, X))
    np.testing.assert_allclose(got["estimate"], X @ est.beta)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(got["lower"], X @ est.beta - z * sd, atol=0.1 * sd.max())
    np.testing.assert_allclose(got["upper"], X @ est.beta + z * sd, atol=0.1 * sd.max())
    assert list(got.columns) == ["estimate", "lower", "upper", "interval"]


def test_new_levels_sampled_widen_by_the_random_effect_variance(sleep):
    """A new subject's mean at Days = d: Xβ + b_new, b_new ~ N(0, Σ): the interval's
    half-width is z √(x Cov(β̂) xᵀ + x Σ xᵀ) (Monte Carlo error ~3% of it)."""
    _, fit = sleep
    new = pd.DataFrame({"Days": [0.0, 8.0], "Subject": ["new", "new"]})
    got = fit.predict(new, new_levels="sample", interval=0.9, seed=5)
    est = fit.estimates
    sd = est.term("Subject").sd
    cor = est.term("Subject").cor
    Sigma = np.outer(sd, sd) * cor
    X = np.column_stack([np.ones(2), new["Days"]])
    half = stats.norm.ppf(0.95) * np.sqrt(np.einsum("ij,jk,ik->i", X, est.beta_cov + Sigma,
                                                    X))
    np.testing.assert_allclose((got["upper"] - got["lower"]) / 2, half, rtol=0.08)
    population = fit.predict(new, interval=0.9)
    assert np.all(population["upper"] - population["lower"] < 0.6 * (got["upper"]
                                                                       - got["lower"]))
    with pytest.raises(bm.DataError, match=r"levels not seen when fitting: 'new'"):
        fit.predict(new, new_levels="error")


def test_prediction_interval_adds_the_residual(sleep):
    _, fit = sleep
    new = pd.DataFrame({"Days": [3.0], "Subject": ["308"]})
    mean = fit.predict(new, interval=0.9)
    pred = fit.predict(new, kind="prediction", interval=0.9, seed=2)
    width_mean = float(mean["upper"].iloc[0] - mean["lower"].iloc[0])
    width_pred = float(pred["upper"].iloc[0] - pred["lower"].iloc[0])
    sigma = fit.estimates.sigma
    expected = 2 * stats.norm.ppf(0.95) * np.sqrt((width_mean / (2 * 1.645)) ** 2 + sigma**2)
    assert width_pred == pytest.approx(expected, rel=0.08)
    assert pred["estimate"].iloc[0] == pytest.approx(mean["estimate"].iloc[0],
                                                     abs=4 * sigma / np.sqrt(4000))


def test_draws_and_term_selection(sleep):
    data, fit = sleep
    arr = fit.predict(draws=True)
    assert arr.dims == ("chain", "draw", "obs") and arr.shape == (1, 4000, len(data))
    only = fit.predict(include_random="(1 | Subject)")
    np.testing.assert_allclose(only, fit.predict(include_random=True))
    with pytest.raises(bm.BayesmixError, match="grouping factor 'Day'.*Subject"):
        fit.predict(include_random="(1 | Day)")
    with pytest.raises(bm.BayesmixError, match="interval must be a probability"):
        fit.predict(interval=90)
    with pytest.raises(bm.BayesmixError, match="kind must be one of"):
        fit.predict(kind="mean")


def test_ordinal_probit_predictions_use_the_normal_cdf():
    wine = bm.datasets.load("wine")
    fit = bm.fit("rating ~ temp + contact + (1 | judge)", wine, "ordinal", link="probit",
                 priors="flat")
    eta = fit.predict(kind="link")
    probs = fit.predict()
    cdf = stats.norm.cdf(fit.estimates.cutpoints[None, :] - eta.values[:, None])
    np.testing.assert_allclose(probs.values, np.diff(
        np.hstack([np.zeros((len(eta), 1)), cdf, np.ones((len(eta), 1))]), axis=1))
    intervals = fit.predict(interval=0.8)
    assert intervals.index.names == ["row", "category"]
    assert (intervals["lower"] <= intervals["estimate"] + 1e-12).all()


@pytest.mark.parametrize("backend", ["laplace", "map", "nuts"])
def test_posterior_predictive_group_and_plot_ppc(backend, sleep):
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    data, _ = sleep
    kw = {"map": {"covariance": {"Subject": [[600.0, 10.0], [10.0, 35.0]]}, "sigma": 25.0},
          "nuts": {"draws": 150, "tune": 150, "chains": 2, "seed": 1, "progressbar": False},
          "laplace": {"seed": 1}}[backend]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit(FORMULA, data, backend=backend, **kw)
    idata = fit.posterior_predictive(seed=4)
    y = idata.posterior_predictive["y"]
    assert y.dims == ("chain", "draw", "obs") and y.shape[-1] == len(data)
    assert float(y.mean()) == pytest.approx(data["Reaction"].mean(), rel=0.02)
    az.plot_ppc(idata, num_pp_samples=10)
    again = fit.posterior_predictive(seed=4)  # replaces the group
    np.testing.assert_array_equal(again.posterior_predictive["y"].values, y.values)


def test_posterior_predictive_p_value_of_a_well_specified_model_is_not_extreme():
    """Poisson GLMM data simulated from the model itself: the posterior predictive p-values
    of the mean, the SD and the share of zeros lie inside (0.02, 0.98) (deterministic
    given the seeds)."""
    rng = np.random.default_rng(11)
    g = rng.integers(0, 30, 900)
    x = rng.normal(size=900)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.7, 30)[g]
    df = pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "g": g.astype(str)})
    fit = bm.fit("y ~ x + (1 | g)", df, "poisson", seed=2)
    y_rep = fit.posterior_predictive(seed=3).posterior_predictive["y"].values.reshape(
        -1, len(df))
    y = df["y"].to_numpy()
    for stat in (np.mean, np.std, lambda v: np.mean(v == 0)):
        p = np.mean(np.apply_along_axis(stat, 1, y_rep) >= stat(y))
        assert 0.02 < p < 0.98, p


def test_simulate_like_lme4(sleep):
    data, fit = sleep
    sims = fit.simulate(50, seed=1)
    assert sims.shape == (len(data), 50) and list(sims.columns[:2]) == ["sim_1", "sim_2"]
    # New random effects per simulation: the subjects' mean responses vary across
    # simulations with the SD of the subject intercepts and the residual.
    means = sims.groupby(data["Subject"].to_numpy()).mean()
    assert means.std(axis=1).mean() > 15
    fitted = fit.simulate(50, seed=1, random="fitted")
    resid = fitted.sub(fit.predict(), axis=0)
    assert resid.to_numpy().std() == pytest.approx(fit.estimates.sigma, rel=0.05)
    new = pd.DataFrame({"Days": [1.0, 2.0], "Subject": ["308", "new"]})
    assert fit.simulate(2, seed=1, newdata=new).shape == (2, 2)
    with pytest.raises(bm.BayesmixError, match="random must be one of"):
        fit.simulate(random="yes")


def test_new_binomial_observations_use_the_new_rows_trials():
    cbpp = bm.datasets.load("cbpp")
    fit = bm.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 "binomial", priors="flat")
    new = cbpp.head(3).assign(size=[100, 100, 100], incidence=[0, 0, 0])
    y = fit.predict(new, kind="prediction", draws=True, seed=1)
    assert float(y.max()) > 7  # out of 100 trials, not of 1 (or of the fitted sizes)
    with pytest.raises(bm.BayesmixError, match="need their number of trials"):
        fit.predict(new.drop(columns=["size", "incidence"]), kind="prediction")
    probs = fit.predict(new.drop(columns=["size", "incidence"]))
    assert np.all((probs > 0) & (probs < 1))
