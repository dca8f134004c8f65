"""Simulation recovery: data drawn from known β, SDs, correlation and σ.

Each check asks the central 99.5% posterior interval to contain the true value. For a
calibrated posterior a single interval misses with probability 0.005, so the 7 checks of one
data set fail together with probability below 4% whatever the seed; the data seed was fixed
once, not chosen to pass. Sizes (60 groups × 12 rows) make the intervals narrow enough that
a wrong scale (SDs off by 25%, a sign error in the correlation) falls outside them.
"""

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm

TRUTH = {"beta": (1.0, 0.5), "sd": (1.0, 0.5), "cor": 0.5, "sigma": 0.7}


def _simulate(m: int, per: int, seed: int, family: str = "gaussian") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sd, rho = np.array(TRUTH["sd"]), TRUTH["cor"]
    cov = np.outer(sd, sd) * np.array([[1, rho], [rho, 1]])
    b = rng.multivariate_normal(np.zeros(2), cov, m)
    g = np.repeat(np.arange(m), per)
    x = rng.normal(size=m * per)
    eta = TRUTH["beta"][0] + TRUTH["beta"][1] * x + b[g, 0] + b[g, 1] * x
    if family == "gaussian":
        y = eta + rng.normal(0, TRUTH["sigma"], m * per)
    else:
        y = (rng.random(m * per) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k:03d}" for k in g]})


def _covers(draws: np.ndarray, truth: float) -> bool:
    lo, hi = np.quantile(draws.ravel(), [0.0025, 0.9975])
    return bool(lo < truth < hi)


def _sampled_well(fit):
    """No divergences and R-hat < 1.02 over all ~130 parameters (the max of that many split
    R-hats from 2 × 500 draws passes 1.01 by chance now and then; 1.02 does not)."""
    extra = fit.info.extra
    assert extra["divergences"] == 0
    assert extra["max_rhat"] < 1.02, fit.info.messages


def _check_recovery(fit, with_sigma: bool):
    post = fit.idata.posterior
    beta = post["beta"].values
    sd = post["sd_g"].values
    cor = post["cor_g"].values[..., 1, 0]
    checks = {
        "beta0": _covers(beta[..., 0], TRUTH["beta"][0]),
        "beta1": _covers(beta[..., 1], TRUTH["beta"][1]),
        "sd0": _covers(sd[..., 0], TRUTH["sd"][0]),
        "sd1": _covers(sd[..., 1], TRUTH["sd"][1]),
        "cor": _covers(cor, TRUTH["cor"]),
    }
    if with_sigma:
        checks["sigma"] = _covers(post["sigma"].values, TRUTH["sigma"])
    assert all(checks.values()), checks
    # The intervals are informative, not just wide: the SD's is narrower than its truth.
    lo, hi = np.quantile(sd[..., 0].ravel(), [0.0025, 0.9975])
    assert hi - lo < TRUTH["sd"][0]


@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")
def test_gaussian_recovery():
    data = _simulate(60, 12, seed=20231)
    fit = bm.fit("y ~ x + (x | g)", data, backend="nuts", draws=500, tune=500, chains=2,
                 seed=1, progressbar=False)
    _sampled_well(fit)
    _check_recovery(fit, with_sigma=True)
    # The posterior means of b track the simulated effects' estimates (shrinkage is mild
    # with 12 rows per group): correlation with the per-group least-squares fits.
    b = fit.idata.posterior["b_g"].values.mean(axis=(0, 1))
    ols = np.array([np.polyfit(d["x"], d["y"], 1)[::-1] for _, d in data.groupby("g")])
    assert np.corrcoef(b[:, 0], ols[:, 0])[0, 1] > 0.9


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")
def test_bernoulli_recovery():
    data = _simulate(300, 40, seed=20232, family="bernoulli")
    fit = bm.fit("y ~ x + (x | g)", data, "bernoulli", backend="nuts", draws=1000,
                 tune=1000, chains=4, seed=2, progressbar=False)
    _sampled_well(fit)
    _check_recovery(fit, with_sigma=False)
