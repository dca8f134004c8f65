"""Per-row negative log-likelihood and its derivatives, for the numba kernels.

For row i the negative log-likelihood f_i depends on the linear predictor η_i and, for the
ordinal family, on the two thresholds around the observed category (α_lo, α_hi), with
``logit P(y ≤ j) = α_j − η`` (ordinal::clmm's convention). :func:`row_terms` returns f_i, its
gradient and Hessian in (η, α_lo, α_hi), all multiplied by the prior weight. Canonical links
only, so the observed and expected information agree and Newton's Hessian is positive
semi-definite everywhere (the cumulative logit is log-concave in (α, η) as well).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["GAUSSIAN", "BINOMIAL", "POISSON", "ORDINAL", "FAMILY_CODES", "row_terms"]

GAUSSIAN, BINOMIAL, POISSON, ORDINAL = 0, 1, 2, 3
FAMILY_CODES = {"gaussian": GAUSSIAN, "bernoulli": BINOMIAL, "binomial": BINOMIAL,
                "poisson": POISSON, "ordinal": ORDINAL}
# exp(η) beyond this overflows soon after; a Poisson step that gets there is rejected.
_ETA_MAX = 700.0


@nb.njit(cache=True, inline="always")
def _log1pexp(x):
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@nb.njit(cache=True, inline="always")
def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@nb.njit(cache=True)
def _ordinal(k, alpha, eta, w):
    """Terms of −w log P(y = k) = −w log(F(α_k − η) − F(α_{k−1} − η))."""
    n_cut = alpha.shape[0]
    lo = k - 1
    hi = k if k < n_cut else -1
    inf = np.inf
    if hi >= 0 and lo >= 0:
        zu, zl = alpha[hi] - eta, alpha[lo] - eta
        if zl >= zu:
            return inf, 0.0, 0.0, lo, hi, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        pu, pl = _expit(zu), _expit(zl)
        qu, ql = _expit(-zu), _expit(-zl)
        e = -np.expm1(zl - zu)
        # P = F(zu) − F(zl) = F(zu) F(−zl) (1 − e^{zl − zu}): every factor computed stably.
        logp = -_log1pexp(-zu) - _log1pexp(zl) + np.log(e)
        A = qu / (ql * e)
        B = pl / (pu * e)
    elif hi >= 0:
        zu = alpha[hi] - eta
        pu = _expit(zu)
        logp = -_log1pexp(-zu)
        A, B, pl = _expit(-zu), 0.0, 0.0
    else:
        zl = alpha[lo] - eta
        pl = _expit(zl)
        logp = -_log1pexp(zl)
        A, B, pu = 0.0, pl, 0.0
    # A = ∂ log P / ∂z_hi, −B = ∂ log P / ∂z_lo; f = −w log P in z = (α − η) coordinates:
    f_hi, f_lo = -w * A, w * B
    h_hh = w * A * (A - 1.0 + 2.0 * pu)
    h_ll = w * B * (B + 1.0 - 2.0 * pl)
    h_lh = -w * A * B
    g_eta = -(f_lo + f_hi)
    h_eta = h_ll + 2.0 * h_lh + h_hh
    h_eta_lo = -(h_ll + h_lh)
    h_eta_hi = -(h_lh + h_hh)
    return -w * logp, g_eta, h_eta, lo, hi, f_lo, f_hi, h_ll, h_lh, h_hh, h_eta_lo, h_eta_hi


@nb.njit(cache=True)
def row_terms(fam, y, eta, w, trials, sigma2, alpha):
    """(f, f_η, f_ηη, lo, hi, f_lo, f_hi, f_lo,lo, f_lo,hi, f_hi,hi, f_η,lo, f_η,hi).

    ``lo``/``hi`` are threshold indices (−1 when absent: always for non-ordinal families).
    """
    if fam == GAUSSIAN:
        r = eta - y
        return (0.5 * w * r * r / sigma2, w * r / sigma2, w / sigma2, -1, -1,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fam == BINOMIAL:
        mu = _expit(eta)
        return (w * (trials * _log1pexp(eta) - y * eta), w * (trials * mu - y),
                w * trials * mu * (1.0 - mu), -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fam == POISSON:
        if eta > _ETA_MAX:
            return np.inf, 0.0, 0.0, -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        mu = np.exp(eta)
        return (w * (mu - y * eta), w * (mu - y), w * mu, -1, -1,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return _ordinal(int(y), alpha, eta, w)
