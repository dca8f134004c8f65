"""The families' numba row kernel against SciPy, NumPy and finite differences: one coding
that every backend uses (PIRLS, the MAP Newton pass, every stored log-likelihood)."""

import numpy as np
import pytest
from scipy import special, stats

import bayesmix
from bayesmix.families import kernels as K


def _terms(fam, link, y, eta, n=1.0, w=1.0, sigma2=1.0, alpha=np.zeros(0)):
    return K.row_terms(fam, link, float(y), float(eta), float(n), float(w), sigma2, alpha)


@pytest.mark.parametrize(("family", "link"), [
    ("bernoulli", "logit"), ("bernoulli", "probit"), ("bernoulli", "cloglog"),
    ("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"),
    ("poisson", "log"), ("poisson", "identity"), ("gaussian", "identity"),
    ("gaussian", "log")])
def test_row_loglik_matches_scipy(family, link):
    """−f + w c is w log p(y | μ(η)) with R's constants, to 1e-12 where SciPy is exact."""
    rng = np.random.default_rng(3)
    fam = bayesmix.get_family(family, link)
    code, lcode = K.codes(fam)
    n = 200
    eta = rng.normal(0.5 if link in ("identity", "log") else 0.0, 1.5, n)
    if family == "poisson" and link == "identity":
        eta = np.abs(eta) + 0.1
    trials = rng.integers(1, 6, n).astype(float) if family == "binomial" else np.ones(n)
    mu = fam.link.inverse(eta)
    if family == "poisson":
        y = rng.poisson(3, n).astype(float)
        ref = stats.poisson.logpmf(y, mu)
    elif family == "gaussian":
        y = rng.normal(2, 1, n)
        ref = stats.norm.logpdf(y, mu, 1.3)
    else:
        y = rng.binomial(trials.astype(int), 0.4).astype(float)
        # log μ and log(1 − μ) in exact forms (the Link's μ is clipped at machine epsilon).
        log_mu, log_1m = {
            "logit": (-np.logaddexp(0, -eta), -np.logaddexp(0, eta)),
            "probit": (stats.norm.logcdf(eta), stats.norm.logcdf(-eta)),
            "cloglog": (np.log(-np.expm1(-np.exp(eta))), -np.exp(eta)),
        }[link]
        ref = (special.gammaln(trials + 1) - special.gammaln(y + 1)
               - special.gammaln(trials - y + 1) + y * log_mu + (trials - y) * log_1m)
    w = rng.uniform(0.5, 2, n)
    const = K.row_constants(code, y, trials if family == "binomial" else None)
    got = np.array([K.row_loglik(code, lcode, y[i], eta[i], trials[i], w[i], 1.3, np.zeros(0),
                                 const[i]) for i in range(n)])
    if family == "gaussian":  # precision weights: N(y | μ, σ²/w)
        ref = stats.norm.logpdf(y, mu, 1.3 / np.sqrt(w))
    else:
        ref = w * ref
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_binary_log_density_is_exact_in_the_tails(link):
    """No clipping of μ: at |η| = 40 the log-likelihood is the exact one (the clipped-μ form
    stops at log ε = −36.04)."""
    code, lcode = K.codes(bayesmix.get_family("bernoulli", link))
    for eta, y in ((-40.0, 1.0), (40.0, 0.0)):
        f = _terms(code, lcode, y, eta)[0]
        if link == "logit":
            exact = np.logaddexp(0.0, -eta if y else eta)
        elif link == "probit":
            exact = -stats.norm.logcdf(eta if y else -eta)
        else:
            e = np.exp(eta)
            exact = -(eta - e / 2 if y else -e)  # log μ ≈ η − e^η/2 far in the lower tail
        assert f == pytest.approx(exact, rel=1e-12)
        assert f > 37.0 or link == "cloglog"


@pytest.mark.parametrize(("family", "link"), [
    ("bernoulli", "logit"), ("poisson", "log"), ("gaussian", "identity"),
    ("ordinal", "logit"), ("ordinal", "probit")])
def test_gradient_and_hessian_are_the_derivatives_of_f(family, link):
    """Canonical links and the ordinal family: g = ∂f/∂η and h = ∂²f/∂η² (observed = the
    weight Newton uses), and for the ordinal family the threshold derivatives too."""
    code, lcode = K.codes(bayesmix.get_family(family, link))
    alpha = np.array([-1.0, 0.5, 2.0])
    h = 1e-5
    cases = [(k, e) for k in range(4) for e in (-3.0, 0.3, 4.0)] if family == "ordinal" \
        else [(1.0, -2.0), (0.0, 0.7), (3.0, 1.2)]
    for y, eta in cases:
        t = _terms(code, lcode, y, eta, alpha=alpha)
        fp, fm = _terms(code, lcode, y, eta + h, alpha=alpha), _terms(code, lcode, y, eta - h,
                                                                     alpha=alpha)
        assert (fp[0] - fm[0]) / (2 * h) == pytest.approx(t[1], rel=1e-6, abs=1e-8)
        assert (fp[1] - fm[1]) / (2 * h) == pytest.approx(t[2], rel=1e-5, abs=1e-7)
        for idx, g_pos, cross_pos in ((t[3], 5, 10), (t[4], 6, 11)):
            if family != "ordinal" or idx < 0:
                continue
            ap, am = alpha.copy(), alpha.copy()
            ap[idx] += h
            am[idx] -= h
            up, dn = _terms(code, lcode, y, eta, alpha=ap), _terms(code, lcode, y, eta,
                                                                   alpha=am)
            assert (up[0] - dn[0]) / (2 * h) == pytest.approx(t[g_pos], rel=1e-6, abs=1e-8)
            assert (up[1] - dn[1]) / (2 * h) == pytest.approx(t[cross_pos], rel=1e-5,
                                                              abs=1e-7)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_fisher_weights_of_non_canonical_links(link):
    """glmer's PIRLS weights: h = w n (dμ/dη)² / (μ(1 − μ)) and the score
    −g = w (y − nμ) μ'/(μ(1 − μ))."""
    fam = bayesmix.get_family("binomial", link)
    code, lcode = K.codes(fam)
    for eta, y, n in ((-1.2, 1.0, 3.0), (0.4, 2.0, 5.0)):
        t = _terms(code, lcode, y, eta, n=n, w=1.5)
        m, d = fam.link.inverse(eta), fam.link.mu_eta(eta)
        v = m * (1 - m)
        assert t[2] == pytest.approx(1.5 * n * d * d / v, rel=1e-12)
        assert -t[1] == pytest.approx(1.5 * (y - n * m) * d / v, rel=1e-12)


def test_ordinal_probabilities_sum_to_one_and_match_scipy():
    alpha = np.array([-1.0, 0.5, 2.0])
    for link, cdf in (("logit", special.expit), ("probit", stats.norm.cdf)):
        code, lcode = K.codes(bayesmix.get_family("ordinal", link))
        for eta in (-3.0, 0.3, 40.0):
            logp = np.array([-_terms(code, lcode, k, eta, alpha=alpha)[0] for k in range(4)])
            assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-12)
            if abs(eta) < 10:
                edges = np.concatenate([[-np.inf], alpha, [np.inf]]) - eta
                np.testing.assert_allclose(np.exp(logp), np.diff(cdf(edges)), rtol=1e-9)


def test_log_ndtr_far_in_the_tail():
    for x in (-29.9, -30.1, -45.0, -200.0):
        assert K.log_ndtr(x) == pytest.approx(stats.norm.logcdf(x), rel=1e-14)
