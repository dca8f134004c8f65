"""prior_only=True samples the prior: draws against the priors' analytic distributions.

Monte-Carlo error bounds: a posterior mean estimated from draws with effective sample size
ESS has standard error sd/√ESS, and an empirical CDF at a quantile q_p has standard error
√(p(1−p)/ESS_p), with ESS_p the ESS of the indicator 1{draw ≤ q_p}. Each check allows 4.5
standard errors: with ~40 checks the chance of a false failure is below 1e-3, while a wrong
prior (a scale off by 10%, a missing Jacobian) moves the statistics by far more.
"""

import numpy as np
import pytest
from scipy import stats

import bayesmix as bm
from bayesmix.backends.nuts.diagnostics import ess_bulk

Z = 4.5
PROBS = (0.1, 0.5, 0.9)


def _check(draws: np.ndarray, dist, label: str):
    """Mean and three quantiles of (chain, draw) draws against a scipy distribution."""
    ess = float(ess_bulk(draws))
    flat = draws.ravel()
    mean_se = dist.std() / np.sqrt(ess)
    assert abs(flat.mean() - dist.mean()) < Z * mean_se, label
    for p in PROBS:
        q = dist.ppf(p)
        ind = (draws <= q).astype(float)
        ess_p = float(ess_bulk(ind))
        se = np.sqrt(p * (1 - p) / ess_p)
        assert abs(ind.mean() - p) < Z * se, f"{label} at the {p} quantile"


@pytest.fixture(scope="module")
def prior_fit():
    data = bm.datasets.load("sleepstudy")
    priors = {
        "(Intercept)": bm.Normal(250, 30),
        "Days": bm.StudentT(5, 10, 3),
        "sd(Subject)": bm.HalfNormal(20),
        "sd(Days|Subject)": bm.Gamma(3, 0.5),  # a different class per column
        "cor(Subject)": bm.LKJ(3),
        "sigma": bm.Exponential(0.05),
    }
    return bm.fit("Reaction ~ Days + (Days | Subject)", data, backend="nuts",
                  priors=priors, prior_only=True, draws=1000, tune=500, chains=2, seed=5,
                  progressbar=False)


def test_prior_only_recovers_scalar_priors(prior_fit):
    post = prior_fit.idata.posterior
    spec = prior_fit.spec
    beta = post["beta"].values
    _check(beta[..., 0], spec.priors["(Intercept)"].to_scipy(), "intercept")
    _check(beta[..., 1], spec.priors["Days"].to_scipy(), "Days")
    sd = post["sd_Subject"].values
    _check(sd[..., 0], spec.priors["sd((Intercept)|Subject)"].to_scipy(), "sd intercept")
    _check(sd[..., 1], spec.priors["sd(Days|Subject)"].to_scipy(), "sd Days")
    _check(post["sigma"].values, spec.priors["sigma"].to_scipy(), "sigma")


def test_prior_only_recovers_the_lkj_correlation(prior_fit):
    """For a 2 × 2 correlation under LKJ(η), (ρ + 1)/2 ~ Beta(η, η)."""
    rho = prior_fit.idata.posterior["cor_Subject"].values[..., 1, 0]
    _check((rho + 1) / 2, stats.beta(3, 3), "correlation")


def test_prior_only_random_effects_have_the_implied_spread(prior_fit):
    """b_j1 = sd₁ z with z ~ N(0, 1), so E b² = E sd₁² = 20² for sd₁ ~ HalfNormal(20)."""
    b = prior_fit.idata.posterior["b_Subject"].values[..., 0]  # (chain, draw, level)
    second_moment = (b ** 2).mean(axis=2)  # averaged over the 18 levels
    ess = float(ess_bulk(second_moment))
    se = second_moment.std() / np.sqrt(ess)
    assert abs(second_moment.mean() - 400.0) < Z * se
    assert prior_fit.info.method == "NUTS (prior only)"
    assert "log_likelihood" not in prior_fit.idata.groups()
    assert prior_fit.idata.attrs["approximation"].startswith("prior draws")


def test_prior_only_ordered_cutpoints():
    """Cutpoints under Normal(0, 5) each, constrained to be ordered: the K − 1 = 4 cutpoints
    are the order statistics of 4 iid N(0, 5), so the lowest has CDF 1 − (1 − Φ(x/5))⁴."""
    wine = bm.datasets.load("wine")
    fit = bm.fit("rating ~ temp + (1 | judge)", wine, "ordinal", backend="nuts",
                 prior_only=True, draws=1000, tune=500, chains=2, seed=2, progressbar=False)
    cuts = fit.idata.posterior["cutpoints"].values
    assert np.all(np.diff(cuts, axis=-1) > 0)

    _check(cuts[..., 0], _order_stat(1, 4, 5.0), "lowest cutpoint")
    _check(cuts[..., 2], _order_stat(3, 4, 5.0), "third cutpoint")


def _order_stat(k: int, n: int, scale: float):
    """The k-th smallest of n iid N(0, scale): its CDF is P(Beta(k, n−k+1) ≤ Φ(x/scale))."""

    class OrderStat(stats.rv_continuous):
        def _cdf(self, x):
            return stats.beta.cdf(stats.norm.cdf(x / scale), k, n - k + 1)

        def _pdf(self, x):
            return (stats.beta.pdf(stats.norm.cdf(x / scale), k, n - k + 1)
                    * stats.norm.pdf(x / scale) / scale)

    return OrderStat(name=f"order_{k}_{n}")
