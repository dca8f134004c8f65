"""The row kernels of every family, in numba: one coding that every backend uses.

For row i with linear predictor η_i, prior weight w_i, trials n_i (binomial) and, for the
ordinal family, thresholds α (``logit P(y ≤ j) = α_j − η``, ordinal::clmm's convention),
:func:`row_terms` returns

    f_i = −w_i (log p(y_i | η_i) − c_i),   g_i = ∂f_i/∂η_i,   h_i ≥ 0,

where c_i collects what does not depend on the parameters (:func:`row_constants`: log C(n, y)
or −log y!; for the Gaussian family the caller adds −½ log(2πσ²/w)) and h_i is the weight
Newton / PIRLS steps use: the observed information for canonical links and the ordinal family
(they coincide with the expected one for canonical links), the expected (Fisher) information
w (dμ/dη)²/V(μ) for the other links, as glmer's PIRLS. For the ordinal family the terms in the
two thresholds around the observed category (α_lo, α_hi) come too.

Log densities are evaluated in forms that stay exact in the tails (log-sigmoid, log Φ by an
asymptotic series, log(1 − e^{−e^η}) for cloglog): no μ is clipped in f. Only the Fisher
weights of the non-canonical binary links floor μ(1 − μ) and dμ/dη at machine epsilon, so
that a step from a saturated row stays finite.

The families with a dispersion or shape parameter read it from the same parameter vector
(``alpha``) the ordinal thresholds use: [φ] for NEGBIN2 (Var = μ + μ²/φ), NEGBIN1
(Var = μ(1 + φ)), GAMMA (shape φ: Var = μ²/φ) and BETA (precision φ: Var = μ(1 − μ)/(1 + φ));
[σ, ν] for STUDENT_T. LOGNORMAL is the Gaussian family on log y (σ² from ``sigma2``, as the
Gaussian), its Jacobian −log y a row constant. For these families h is the observed
information, exactly what the Laplace approximation's determinant needs; for NEGBIN1, BETA and
STUDENT_T it can be negative in single rows (the conditional mode clips it at 0 for its
Newton steps and takes the determinant at the observed values).

The zero-inflated families (ZIPOISSON, ZINEGBIN2: y = 0 with probability π_i, else the
Poisson or NB2 count) read the row's zero-inflation log-odds ζ_i = logit π_i from the per-row
value that carries the binomial trials n_i (no family has both). With the count's terms
(f_c, g_c, h_c), a positive y adds −w log(1 − π) to f; a zero has
p(0) = π + (1 − π) e^{−f_c}, whose η-terms are g = r g_c and h = r h_c − r(1 − r) g_c² with
r = (1 − π) e^{−f_c} / p(0), the probability that the zero is a count: h is the observed
information and can be negative.

Codes: family GAUSSIAN, BINOMIAL (bernoulli and binomial), POISSON, ORDINAL, NEGBIN2, NEGBIN1,
GAMMA, BETA, STUDENT_T, LOGNORMAL, ZIPOISSON, ZINEGBIN2; link IDENTITY, LOGIT, PROBIT, CLOGLOG, LOG, INVERSE.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .special import digamma, expit, log1pexp, log_expit, log_ndtr, trigamma

__all__ = ["GAUSSIAN", "BINOMIAL", "POISSON", "ORDINAL", "NEGBIN2", "NEGBIN1", "GAMMA",
           "BETA", "STUDENT_T", "LOGNORMAL", "ZIPOISSON", "ZINEGBIN2", "IDENTITY", "LOGIT", "PROBIT", "CLOGLOG", "LOG",
           "INVERSE", "codes", "digamma", "trigamma", "row_terms", "row_loglik", "row_constants",
           "log_expit", "log_ndtr", "mean_of", "ordinal_loglik_rows"]

GAUSSIAN, BINOMIAL, POISSON, ORDINAL = 0, 1, 2, 3
NEGBIN2, NEGBIN1, GAMMA, BETA, STUDENT_T, LOGNORMAL = 4, 5, 6, 7, 8, 9
ZIPOISSON, ZINEGBIN2 = 10, 11
IDENTITY, LOGIT, PROBIT, CLOGLOG, LOG, INVERSE = 0, 1, 2, 3, 4, 5
_FAMILY_CODES = {"gaussian": GAUSSIAN, "bernoulli": BINOMIAL, "binomial": BINOMIAL,
                 "poisson": POISSON, "ordinal": ORDINAL, "negbinomial": NEGBIN2,
                 "negbinomial1": NEGBIN1, "gamma": GAMMA, "beta": BETA,
                 "student_t": STUDENT_T, "lognormal": LOGNORMAL,
                 "zero_inflated_poisson": ZIPOISSON, "zero_inflated_negbinomial": ZINEGBIN2}
_LINK_CODES = {"identity": IDENTITY, "logit": LOGIT, "probit": PROBIT, "cloglog": CLOGLOG,
               "log": LOG, "inverse": INVERSE}

_EPS = np.finfo(float).eps
_ETA_MAX = 700.0  # exp(η) beyond this overflows soon after: the row is outside the domain
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INF = math.inf


def codes(family) -> tuple[int, int]:
    """(family code, link code) of a :class:`~bayesmix.families.Family`."""
    return _FAMILY_CODES[family.name], _LINK_CODES[family.link.name]


@njit(cache=True, inline="always")
def _binary_logs(link, eta):
    """(log μ, log(1 − μ)) of a binary link, exact in both tails."""
    if link == LOGIT:
        return log_expit(eta), log_expit(-eta)
    if link == PROBIT:
        return log_ndtr(eta), log_ndtr(-eta)
    # cloglog: μ = 1 − exp(−e^η), so log(1 − μ) = −e^η.
    t = math.exp(min(eta, _ETA_MAX))
    if eta < -30.0:
        return eta - 0.5 * t, -t  # log(−expm1(−t)) = log t − t/2 + O(t²)
    return math.log(-math.expm1(-t)), -t


@njit(cache=True, inline="always")
def mean_of(link, eta):
    """μ = g⁻¹(η) (unclipped)."""
    if link == IDENTITY:
        return eta
    if link == LOG:
        return math.exp(min(eta, _ETA_MAX))
    if link == INVERSE:
        return 1.0 / eta
    if link == LOGIT:
        return expit(eta)
    if link == PROBIT:
        return 0.5 * math.erfc(-eta / math.sqrt(2.0))
    return -math.expm1(-math.exp(min(eta, _ETA_MAX)))


@njit(cache=True, inline="always")
def _binary_fisher(link, eta):
    """(μ, dμ/dη) of a non-canonical binary link, floored as glmer's PIRLS weights."""
    if link == PROBIT:
        m = 0.5 * math.erfc(-eta / math.sqrt(2.0))
        d = max(math.exp(-0.5 * eta * eta - _LOG_SQRT_2PI), _EPS)
    else:
        e = min(eta, _ETA_MAX)
        m = -math.expm1(-math.exp(e))
        d = max(math.exp(e - math.exp(e)), _EPS)
    return min(max(m, _EPS), 1.0 - _EPS), d


@njit(cache=True, inline="always")
def _cdf_logs(link, z):
    """(log F(z), log(1 − F(z)), log f(z)) of the ordinal latent distribution."""
    if link == LOGIT:
        lf, ls = log_expit(z), log_expit(-z)
        return lf, ls, lf + ls
    return log_ndtr(z), log_ndtr(-z), -0.5 * z * z - _LOG_SQRT_2PI


@njit(cache=True, inline="always")
def _density_slope(link, z, logf):
    """f'(z) / f(z) of the ordinal latent density."""
    if link == LOGIT:
        return 1.0 - 2.0 * expit(z)
    return -z


@njit(cache=True)
def _ordinal(link, k, alpha, eta, w):
    """Terms of f = −w log P(y = k), P = F(α_k − η) − F(α_{k−1} − η)."""
    n_cut = alpha.shape[0]
    lo = k - 1
    hi = k if k < n_cut else -1
    A, B, sA, sB = 0.0, 0.0, 0.0, 0.0
    if hi >= 0 and lo >= 0:
        zu, zl = alpha[hi] - eta, alpha[lo] - eta
        if zl >= zu:
            return _INF, 0.0, 0.0, lo, hi, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        lfu, lsu, ldu = _cdf_logs(link, zu)
        lfl, lsl, ldl = _cdf_logs(link, zl)
        if link == LOGIT:
            # F(zu) − F(zl) = F(zu) (1 − F(zl)) (1 − e^{zl − zu}): every factor exact.
            logp = lfu + lsl + math.log(-math.expm1(zl - zu))
        elif zl > 0.0:
            logp = lsl + math.log(-math.expm1(lsu - lsl))
        else:
            logp = lfu + math.log(-math.expm1(lfl - lfu))
        A, B = math.exp(ldu - logp), math.exp(ldl - logp)
        sA, sB = _density_slope(link, zu, ldu), _density_slope(link, zl, ldl)
    elif hi >= 0:
        zu = alpha[hi] - eta
        lfu, lsu, ldu = _cdf_logs(link, zu)
        logp = lfu
        A, sA = math.exp(ldu - logp), _density_slope(link, zu, ldu)
    else:
        zl = alpha[lo] - eta
        lfl, lsl, ldl = _cdf_logs(link, zl)
        logp = lsl
        B, sB = math.exp(ldl - logp), _density_slope(link, zl, ldl)
    # A = ∂log P/∂z_hi, −B = ∂log P/∂z_lo; f' / P = A·sA and B·sB.
    f_hi, f_lo = -w * A, w * B
    h_hh = w * A * (A - sA)
    h_ll = w * B * (B + sB)
    h_lh = -w * A * B
    g_eta = -(f_lo + f_hi)
    h_eta = h_ll + 2.0 * h_lh + h_hh
    return (-w * logp, g_eta, h_eta, lo, hi, f_lo, f_hi, h_ll, h_lh, h_hh,
            -(h_ll + h_lh), -(h_lh + h_hh))


@njit(cache=True, error_model="numpy")
def _dispersion_terms(fam, link, y, eta, w, alpha):
    """(f, g, h) of the families with a dispersion or shape parameter (see the module
    docstring); h is the observed information. Parameters that under- or overflowed (0 or
    inf, from far in the tails of an integration) leave the row outside the domain."""
    for j in range(alpha.shape[0]):
        if not (alpha[j] > 0.0 and alpha[j] < _INF):
            return _INF, 0.0, 0.0
    if fam == NEGBIN2:
        if eta > _ETA_MAX:
            return _INF, 0.0, 0.0
        phi = alpha[0]
        lp = math.log(phi)
        t = eta - lp
        s = expit(t)
        f = -w * (math.lgamma(y + phi) - math.lgamma(phi) + phi * lp + y * eta
                  - (y + phi) * (lp + log1pexp(t)))
        return f, w * ((y + phi) * s - y), w * (y + phi) * s * (1.0 - s)
    if fam == NEGBIN1:
        if eta > _ETA_MAX:
            return _INF, 0.0, 0.0
        phi = alpha[0]
        k = math.exp(eta) / phi
        l1p = math.log1p(phi)
        f = -w * (math.lgamma(y + k) - math.lgamma(k) - k * l1p
                  + y * (math.log(phi) - l1p))
        if k == 0.0:
            return f, 0.0, 0.0
        d = digamma(y + k) - digamma(k) - l1p if y > 0.0 else -l1p
        dd = trigamma(y + k) - trigamma(k) if y > 0.0 else 0.0
        return f, -w * k * d, -w * (k * d + k * k * dd)
    if fam == GAMMA:
        a = alpha[0]
        base = a * math.log(a) - math.lgamma(a) + a * math.log(y)
        if link == LOG:
            if eta < -_ETA_MAX:
                return _INF, 0.0, 0.0
            z = y * math.exp(-eta)
            return -w * (base - a * z - a * eta), w * a * (1.0 - z), w * a * z
        if eta <= 0.0:
            return _INF, 0.0, 0.0
        return (-w * (base - a * y * eta + a * math.log(eta)), w * a * (y - 1.0 / eta),
                w * a / (eta * eta))
    if fam == BETA:
        phi = alpha[0]
        m = expit(eta)
        a, b = m * phi, (1.0 - m) * phi
        if a <= 0.0 or b <= 0.0:
            return _INF, 0.0, 0.0
        ly, l1y = math.log(y), math.log1p(-y)
        f = -w * (math.lgamma(phi) - math.lgamma(a) - math.lgamma(b) + a * ly + b * l1y)
        d = ly - l1y - digamma(a) + digamma(b)
        dm = m * (1.0 - m)
        h = phi * phi * (trigamma(a) + trigamma(b)) * dm * dm - phi * d * dm * (1.0 - 2.0 * m)
        return f, -w * phi * d * dm, w * h
    # STUDENT_T
    sigma, nu = alpha[0], alpha[1]
    r = y - eta
    v = nu * sigma * sigma
    q = v + r * r
    f = -w * (math.lgamma(0.5 * (nu + 1.0)) - math.lgamma(0.5 * nu)
              - 0.5 * math.log(nu * math.pi) - math.log(sigma)
              - 0.5 * (nu + 1.0) * math.log1p(r * r / v))
    return f, -w * (nu + 1.0) * r / q, w * (nu + 1.0) * (v - r * r) / (q * q)


@njit(cache=True, error_model="numpy")
def _zero_inflated(fam, y, eta, zeta, w, alpha):
    """(f, g, h) of a zero-inflated Poisson or NB2 row with zero-inflation log-odds ζ."""
    if fam == ZIPOISSON:
        if eta > _ETA_MAX:
            return _INF, 0.0, 0.0
        m = math.exp(eta)
        fc, gc, hc = m - y * eta, m - y, m
    else:
        fc, gc, hc = _dispersion_terms(NEGBIN2, LOG, y, eta, 1.0, alpha)
        if fc == _INF:
            return _INF, 0.0, 0.0
    log_pi, log_1mpi = log_expit(zeta), log_expit(-zeta)
    if y > 0.0:
        return w * (fc - log_1mpi), w * gc, w * hc
    a, b = log_pi, log_1mpi - fc  # log π, log((1 − π) p_c(0))
    top = max(a, b)
    logp = top + math.log(math.exp(a - top) + math.exp(b - top))
    r = math.exp(b - logp)
    return -w * logp, w * r * gc, w * (r * hc - r * (1.0 - r) * gc * gc)


@njit(cache=True)
def row_terms(fam, link, y, eta, n, w, sigma2, alpha):
    """(f, g, h, lo, hi, f_lo, f_hi, h_lo,lo, h_lo,hi, h_hi,hi, h_η,lo, h_η,hi) of one row.

    ``lo``/``hi`` are threshold indices (−1 when absent: always outside the ordinal
    family); f is +inf where η is outside the family's domain (a log-link mean that
    overflows, a non-positive identity-link Poisson mean, thresholds out of order). ``n``
    is the binomial trials, or ζ, the zero-inflation log-odds, of the zero-inflated
    families.
    """
    if fam >= ZIPOISSON:
        f, g, h = _zero_inflated(fam, y, eta, n, w, alpha)
        return f, g, h, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    if fam >= NEGBIN2 and fam != LOGNORMAL:
        f, g, h = _dispersion_terms(fam, link, y, eta, w, alpha)
        return f, g, h, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    if fam == GAUSSIAN or fam == LOGNORMAL:
        if fam == LOGNORMAL:
            r = eta - math.log(y)
            return (0.5 * w * r * r / sigma2, w * r / sigma2, w / sigma2, -1, -1,
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        if link == IDENTITY:
            r = eta - y
            return (0.5 * w * r * r / sigma2, w * r / sigma2, w / sigma2, -1, -1,
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        if eta > _ETA_MAX:
            return _INF, 0.0, 0.0, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        m = math.exp(eta)
        r = m - y
        return (0.5 * w * r * r / sigma2, w * r * m / sigma2, w * m * m / sigma2, -1, -1,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fam == BINOMIAL:
        if link == LOGIT:
            # log(1 + e^η) and the mean from one exponential, e^{−|η|}
            e = math.exp(-abs(eta))
            softplus = max(eta, 0.0) + math.log1p(e)
            m = 1.0 / (1.0 + e) if eta >= 0.0 else e / (1.0 + e)
            return (w * (n * softplus - y * eta), w * (n * m - y),
                    w * n * m * (1.0 - m), -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        lm, l1m = _binary_logs(link, eta)
        f = 0.0
        if y > 0.0:
            f -= w * y * lm
        if n - y > 0.0:
            f -= w * (n - y) * l1m
        m, d = _binary_fisher(link, eta)
        v = m * (1.0 - m)
        return (f, -w * (y - n * m) * d / v, w * n * d * d / v, -1, -1,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fam == POISSON:
        if link == LOG:
            if eta > _ETA_MAX:
                return _INF, 0.0, 0.0, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            m = math.exp(eta)
            return (w * (m - y * eta), w * (m - y), w * m, -1, -1,
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        if eta <= 0.0:
            return _INF, 0.0, 0.0, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        ly = y * math.log(eta) if y > 0.0 else 0.0
        return (w * (eta - ly), -w * (y - eta) / eta, w / eta, -1, -1,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return _ordinal(link, int(y), alpha, eta, w)


@njit(cache=True)
def row_loglik(fam, link, y, eta, n, w, sigma, alpha, const):
    """The full log-likelihood contribution of one row, constants included: w (log p − c)
    + w c outside the Gaussian family, log N(y | μ, σ²/w) for it (0 when w = 0), that plus
    the Jacobian c = −log y for the lognormal."""
    if w == 0.0:
        return 0.0
    f = row_terms(fam, link, y, eta, n, w, sigma * sigma, alpha)[0]
    if fam == GAUSSIAN:
        return -f - math.log(sigma) - _LOG_SQRT_2PI + 0.5 * math.log(w)
    if fam == LOGNORMAL:
        return -f - math.log(sigma) - _LOG_SQRT_2PI + 0.5 * math.log(w) + const
    return -f + w * const


@njit(cache=True)
def ordinal_loglik_rows(link, codes, eta, alpha, out):
    """log P(y_i = codes_i) of the cumulative model for every row."""
    for i in range(codes.shape[0]):
        out[i] = -_ordinal(link, int(codes[i]), alpha, eta[i], 1.0)[0]


def row_constants(fam: int, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
    """c_i of every row: log C(n, y) (binomial with trials), −log y! (Poisson, negative
    binomials and their zero-inflated forms), −log y (gamma, lognormal), −log y − log(1 − y)
    (beta), 0 otherwise (a Bernoulli row's log C(1, y) is 0)."""
    from scipy.special import gammaln

    y = np.asarray(y, dtype=float)
    if fam == BINOMIAL and trials is not None:
        n = np.asarray(trials, dtype=float)
        return gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
    if fam in (POISSON, NEGBIN2, NEGBIN1, ZIPOISSON, ZINEGBIN2):
        return -gammaln(y + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if fam in (GAMMA, LOGNORMAL):
            return -np.log(y)
        if fam == BETA:
            return -np.log(y) - np.log1p(-y)
    return np.zeros_like(y)
