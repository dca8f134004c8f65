"""A correlated term's correlation matrix in unconstrained coordinates, apart from its SDs.

Cov(b_j) = D R D with D = diag(sd) and R = L Lᵀ, L the Cholesky factor of the correlation
matrix. The SDs live on the log scale with their own priors (as for ``||`` terms); R through
its k = r(r−1)/2 canonical partial correlations z = tanh(u), u unconstrained (the
construction of Lewandowski, Kurowicka & Joe 2009, as Stan's ``cholesky_factor_corr``): the
nuts backend samples u, the Bayesian Laplace integrates over it. Row i of L (i ≥ 1) is

    L[i, j] = z_ij √(1 − Σ_{l<j} L[i, l]²)  for j < i,    L[i, i] = √(1 − Σ_{l<i} L[i, l]²).

The log density of u is the LKJ(η) density of R times the Jacobians of u ↦ L ↦ R:

    log p(u) = Σ_{i≥1} (r − i − 1 + 2η − 2) log L[i, i]          (LKJ on L, incl. |∂R/∂L|)
             + Σ_{i>j} log(1 − z_ij²) + ½ Σ_{i>j≥1} log(1 − Σ_{l<j} L[i, l]²)   (|∂L/∂u|)

up to the LKJ normalising constant (tests check it numerically against the density of R).
Unlike ``pm.LKJCholeskyCov``, which samples the Cholesky factor of the covariance, the scales
do not move with the correlation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["n_cpc", "cholesky_from_cpc", "lkj_cpc_logp", "cholesky_from_cpc_numpy",
           "lkj_cpc_logp_numpy", "cpc_from_cholesky"]


def n_cpc(r: int) -> int:
    """Number of canonical partial correlations of an r × r correlation matrix."""
    return r * (r - 1) // 2


def _log1m_tanh2(u, pt):
    """log(1 − tanh(u)²) = 2 (log 2 − |u| − log(1 + e^{−2|u|})), stable for large |u|."""
    a = pt.abs(u)
    return 2.0 * (np.log(2.0) - a - pt.softplus(-2.0 * a))


def cholesky_from_cpc(u, r: int):
    """(L, log p(u) without the LKJ term's η part) for an unconstrained vector ``u``.

    Returns
    -------
    L : list of lists of scalar expressions
        Lower triangle of the correlation Cholesky factor, ``L[i][j]`` for j ≤ i.
    log_jacobian : scalar expression
        log |∂L/∂u| + log |∂R/∂L| (everything in log p(u) but the η term).
    log_diag : list of scalar expressions
        log L[i, i] for i = 1 … r − 1.
    """
    import pytensor.tensor as pt

    z = pt.tanh(u)
    log_jac = pt.sum(_log1m_tanh2(u, pt)) if r > 1 else pt.constant(0.0)
    L = [[pt.constant(1.0)]]
    log_diag = []
    k = 0
    for i in range(1, r):
        row, sumsq = [], None
        for j in range(i):
            if j == 0:
                value = z[k]
            else:
                log_jac = log_jac + 0.5 * pt.log1p(-sumsq)
                value = z[k] * pt.sqrt(1.0 - sumsq)
            k += 1
            row.append(value)
            sumsq = pt.sqr(value) if sumsq is None else sumsq + pt.sqr(value)
        log_lii = 0.5 * pt.log1p(-sumsq)
        row.append(pt.exp(log_lii))
        log_diag.append(log_lii)
        log_jac = log_jac + (r - i - 1) * log_lii
        L.append(row)
    return L, log_jac, log_diag


def lkj_cpc_logp(u, r: int, eta: float):
    """log p(u) of the module docstring, for LKJ(``eta``) on R; also returns L."""
    L, log_jac, log_diag = cholesky_from_cpc(u, r)
    return L, log_jac + (2.0 * eta - 2.0) * sum(log_diag)


def cholesky_from_cpc_numpy(u: np.ndarray, r: int) -> np.ndarray:
    """(..., k) unconstrained values → (..., r, r) Cholesky factors of correlation matrices."""
    u = np.asarray(u, dtype=float)
    z = np.tanh(u)
    L = np.zeros(u.shape[:-1] + (r, r))
    L[..., 0, 0] = 1.0
    k = 0
    for i in range(1, r):
        sumsq = np.zeros(u.shape[:-1])
        for j in range(i):
            L[..., i, j] = z[..., k] * np.sqrt(1.0 - sumsq)
            sumsq = sumsq + L[..., i, j] ** 2
            k += 1
        L[..., i, i] = np.sqrt(np.maximum(1.0 - sumsq, 0.0))
    return L


def lkj_cpc_logp_numpy(u: np.ndarray, r: int, eta: float) -> float:
    """log p(u) of the module docstring for one vector ``u`` (NumPy), with the LKJ
    normalising constant: the log density of u when R ~ LKJ(η).

    Uses 1 − Σ_{l≤j} L[i, l]² = Π_{l≤j} (1 − z_il²) and log(1 − tanh(u)²) in a form that stays
    finite for any u.
    """
    from .priors import _lkj_log_c

    u = np.asarray(u, dtype=float)
    a = np.abs(u)
    log1m_z2 = 2.0 * (np.log(2.0) - a - np.log1p(np.exp(-2.0 * a)))
    log_jac = float(np.sum(log1m_z2))
    k = 0
    log_diag_sum = 0.0
    for i in range(1, r):
        log_rest = 0.0  # log(1 − Σ_{l<j} L[i, l]²)
        for j in range(i):
            if j > 0:
                log_jac += 0.5 * log_rest
            log_rest += log1m_z2[k]
            k += 1
        log_lii = 0.5 * log_rest
        log_jac += (r - i - 1) * log_lii
        log_diag_sum += log_lii
    return log_jac + (2.0 * eta - 2.0) * log_diag_sum - _lkj_log_c(eta, r)


def cpc_from_cholesky(L: np.ndarray) -> np.ndarray:
    """The unconstrained u (k,) of a correlation Cholesky factor L (r × r): the inverse of
    :func:`cholesky_from_cpc_numpy`, with z clipped inside (−1, 1)."""
    r = L.shape[0]
    out = []
    for i in range(1, r):
        sumsq = 0.0
        for j in range(i):
            rest = np.sqrt(max(1.0 - sumsq, 1e-300))
            z = np.clip(L[i, j] / rest, -1 + 1e-12, 1 - 1e-12)
            out.append(np.arctanh(z))
            sumsq += L[i, j] ** 2
    return np.array(out)
