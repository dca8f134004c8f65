"""Families and links against SciPy's distributions and R's conventions."""

import numpy as np
import pytest
from scipy import special, stats

from bayesmix.errors import FamilyError
from bayesmix.families import get_family, get_link, ordinal_loglik

ETA = np.linspace(-30, 30, 61)


@pytest.mark.parametrize("name", ["logit", "probit", "cloglog", "log", "identity"])
def test_links_invert_and_differentiate(name):
    link = get_link(name)
    # Up to η = 3: beyond, cloglog's μ is within machine epsilon of 1 and is clamped there,
    # as R's binomial(link = "cloglog")$linkinv does.
    eta = np.linspace(-4, 3, 36)
    mu = link.inverse(eta)
    np.testing.assert_allclose(link.link(mu), eta, rtol=1e-9, atol=1e-9)
    h = 1e-6
    numeric = (link.inverse(eta + h) - link.inverse(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta), numeric, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("name", ["logit", "probit", "cloglog"])
def test_binary_links_stay_inside_the_unit_interval(name):
    mu = get_link(name).inverse(ETA)
    assert np.all((mu > 0) & (mu < 1))
    assert np.all(get_link(name).mu_eta(ETA) > 0)


def test_logliks_match_scipy():
    rng = np.random.default_rng(0)
    y = rng.poisson(3, 20).astype(float)
    mu = rng.uniform(0.5, 5, 20)
    np.testing.assert_allclose(get_family("poisson").loglik(y, mu), stats.poisson.logpmf(y, mu))
    n = rng.integers(1, 10, 20).astype(float)
    k = np.minimum(y, n)
    p = rng.uniform(0.05, 0.95, 20)
    np.testing.assert_allclose(get_family("binomial").loglik(k, p, n),
                               stats.binom.logpmf(k, n, p))
    np.testing.assert_allclose(get_family("gaussian").loglik(y, mu, sigma=1.7),
                               stats.norm.logpdf(y, mu, 1.7))


def test_unit_deviance_is_twice_the_loglik_gap():
    # d(y, μ) = 2 [ℓ(y; y) − ℓ(y; μ)] for the saturated model.
    rng = np.random.default_rng(1)
    fam = get_family("poisson")
    y = rng.poisson(4, 30).astype(float)
    mu = rng.uniform(1, 6, 30)
    gap = 2 * (fam.loglik(y, np.maximum(y, 1e-300)) - fam.loglik(y, mu))
    np.testing.assert_allclose(fam.unit_deviance(y, mu), gap, rtol=1e-10, atol=1e-10)
    fam = get_family("binomial")
    n = np.full(30, 8.0)
    k = np.minimum(y, n)
    p = rng.uniform(0.1, 0.9, 30)
    gap = 2 * (fam.loglik(k, np.clip(k / n, 1e-300, 1), n) - fam.loglik(k, p, n))
    np.testing.assert_allclose(fam.unit_deviance(k, p, n), gap, rtol=1e-9, atol=1e-9)


def test_ordinal_loglik_sums_to_one_and_is_stable():
    cut = np.array([-1.0, 0.5, 2.0])
    for eta in (-40.0, 0.3, 40.0):
        probs = np.exp([ordinal_loglik(np.array([j]), np.array([eta]), cut)[0]
                        for j in range(4)])
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    direct = np.log(special.expit(0.5 - 0.3) - special.expit(-1.0 - 0.3))
    assert ordinal_loglik(np.array([1]), np.array([0.3]), cut)[0] == pytest.approx(direct)
    assert np.isfinite(ordinal_loglik(np.array([0]), np.array([60.0]), cut)).all()


def test_family_errors():
    with pytest.raises(FamilyError, match="available families"):
        get_family("tweedie")
    with pytest.raises(FamilyError, match="available links"):
        get_link("loglog")
    assert get_family("binomial", "probit").link.name == "probit"
