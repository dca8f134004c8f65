"""numba kernels of the PIRLS inner loop: μ, working weights, score and deviance in one pass.

They reproduce :mod:`bayesmix.families` (same clipping of μ inside (0, 1), same μ_η floors,
R's deviance and log-likelihood constants) for the families the Laplace backend fits; the
tests compare them with the NumPy family functions. One pass over the rows replaces a dozen
NumPy temporaries, which dominated the cost of a PIRLS step.

Codes: family 0 = bernoulli/binomial, 1 = poisson; link 0 = logit, 1 = probit, 2 = cloglog,
3 = log.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["FAMILY_CODES", "LINK_CODES", "working", "eta_working", "unit_loglik",
           "draws_loglik", "saturated_loglik"]

FAMILY_CODES = {"bernoulli": 0, "binomial": 0, "poisson": 1}
LINK_CODES = {"logit": 0, "probit": 1, "cloglog": 2, "log": 3}

_EPS = np.finfo(float).eps
_MAX_EXP = 700.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, inline="always")
def _mu_and_deriv(link, eta):
    """(μ, dμ/dη) of one η, clipped as bayesmix.families.links."""
    if link == 0:
        if eta >= 0:
            e = math.exp(-eta)
            m = 1.0 / (1.0 + e)
        else:
            e = math.exp(eta)
            m = e / (1.0 + e)
        d = max(m * (1.0 - m), _EPS)
        return min(max(m, _EPS), 1.0 - _EPS), d
    if link == 1:
        m = 0.5 * math.erfc(-eta / math.sqrt(2.0))
        d = max(math.exp(-0.5 * eta * eta) * _INV_SQRT_2PI, _EPS)
        return min(max(m, _EPS), 1.0 - _EPS), d
    if link == 2:
        e = min(eta, _MAX_EXP)
        m = -math.expm1(-math.exp(e))
        d = max(math.exp(e - math.exp(e)), _EPS)
        return min(max(m, _EPS), 1.0 - _EPS), d
    m = max(math.exp(min(eta, _MAX_EXP)), _EPS)
    return m, m


@njit(cache=True, inline="always")
def _xlogy_ratio(y, m):
    return 0.0 if y == 0.0 else y * math.log(y / m)


@njit(cache=True, inline="always")
def _row_working(family, link, yi, ni, pwi, eta):
    """(μ, w, score, unit deviance) of one row."""
    m, d = _mu_and_deriv(link, eta)
    if family == 0:
        var = ni * m * (1.0 - m)
        dmean = ni * d
        resid = yi - ni * m
        di = 2.0 * (_xlogy_ratio(yi, ni * m) + _xlogy_ratio(ni - yi, ni * (1.0 - m)))
    else:
        var = m
        dmean = d
        resid = yi - m
        di = 2.0 * (_xlogy_ratio(yi, m) - (yi - m))
    wi = pwi * dmean * dmean / var
    return m, wi, wi * resid / dmean, di


@njit(cache=True, nogil=True)
def working(family, link, y, trials, pw, eta, mu, w, wr):
    """μ, working weights w, scores wr = w (y − E y)/(dE y/dη); returns Σ pw·d(y, μ).

    ``trials`` and ``pw`` may be empty arrays (1 for every row).
    """
    n = y.shape[0]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    dev = 0.0
    for i in range(n):
        pwi = pw[i] if has_w else 1.0
        m, wi, wri, di = _row_working(family, link, y[i], trials[i] if has_n else 1.0, pwi,
                                      eta[i])
        mu[i] = m
        w[i] = wi
        wr[i] = wri
        dev += pwi * di
    return dev


@njit(cache=True, nogil=True)
def eta_working(family, link, y, trials, pw, data, cols, width, X, beta, offset, u, eta,
                mu, w, wr):
    """:func:`working` at η = offset + Xβ + ZΛu, computing η in the same pass (``data`` and
    ``cols``: the CSR values and columns of ZΛ, ``width`` entries per row)."""
    n = y.shape[0]
    p = X.shape[1]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    dev = 0.0
    for i in range(n):
        e = offset[i]
        for k in range(p):
            e += X[i, k] * beta[k]
        base = i * width
        for f in range(width):
            e += data[base + f] * u[cols[base + f]]
        eta[i] = e
        pwi = pw[i] if has_w else 1.0
        m, wi, wri, di = _row_working(family, link, y[i], trials[i] if has_n else 1.0, pwi, e)
        mu[i] = m
        w[i] = wi
        wr[i] = wri
        dev += pwi * di
    return dev


@njit(cache=True, nogil=True)
def unit_loglik(family, link, y, trials, pw, sat, eta, out):
    """Pointwise log-likelihood pw·log p(y | μ(η)) = pw (sat − d(y, μ)/2) for η of shape
    (n, k) (k draws), with ``sat`` the saturated log-likelihood of each row."""
    n, k = eta.shape
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    for i in range(n):
        pwi = pw[i] if has_w else 1.0
        ni = trials[i] if has_n else 1.0
        for j in range(k):
            _, _, _, di = _row_working(family, link, y[i], ni, pwi, eta[i, j])
            out[i, j] = pwi * (sat[i] - 0.5 * di)


@njit(cache=True, nogil=True)
def draws_loglik(family, link, y, trials, pw, sat, sigma, data, cols, width, X, offset, Bt,
                 Ut, out):
    """Pointwise log-likelihood at S draws of (β, u): out[s, i] = log p(yᵢ | ηᵢ(βₛ, uₛ)) with
    η = offset + Xβ + ZΛu, without n × S temporaries.

    ``Bt`` (p × S) and ``Ut`` (q × S) hold the draws draw-minor, so the loops over draws are
    contiguous; rows go in blocks whose results are transposed into ``out`` (S × n).
    ``family`` 2 is the Gaussian (prior weights ``pw`` divide the variance σ²); 0 and 1 use
    pw·(sat − d(y, μ)/2) as :func:`unit_loglik`.
    """
    S = Bt.shape[1]
    n = y.shape[0]
    p = X.shape[1]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    block = 128
    buf = np.empty((block, S))
    eta = np.empty(S)
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        for i in range(i0, i1):
            for s in range(S):
                eta[s] = offset[i]
            for k in range(p):
                xk = X[i, k]
                for s in range(S):
                    eta[s] += xk * Bt[k, s]
            base = i * width
            for f in range(width):
                d = data[base + f]
                c = cols[base + f]
                for s in range(S):
                    eta[s] += d * Ut[c, s]
            pwi = pw[i] if has_w else 1.0
            if family == 2:
                # log p = c − h (y − η)², the constants per row.
                const = -0.5 * math.log(2.0 * math.pi * sigma * sigma / pwi)
                h = 0.5 * pwi / (sigma * sigma)
                for s in range(S):
                    r = y[i] - eta[s]
                    buf[i - i0, s] = const - h * r * r
            else:
                ni = trials[i] if has_n else 1.0
                for s in range(S):
                    _, _, _, di = _row_working(family, link, y[i], ni, pwi, eta[s])
                    buf[i - i0, s] = pwi * (sat[i] - 0.5 * di)
        for s in range(S):
            for i in range(i0, i1):
                out[s, i] = buf[i - i0, s]


def saturated_loglik(family: int, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
    """log p(y | μ = y/n) per row, R's constants included (log C(n, y) or −log y!).

    The log-likelihood is this minus half the unit deviance, so PIRLS, which computes the
    deviance anyway, gets the log-likelihood without another pass over the rows.
    """
    from scipy.special import gammaln, xlogy

    if family == 0:
        n = np.ones_like(y) if trials is None else trials
        const = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
        return const + xlogy(y, y / n) + xlogy(n - y, (n - y) / n)
    return -gammaln(y + 1) + xlogy(y, y) - y
