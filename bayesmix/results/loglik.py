"""The pointwise log-likelihood of posterior draws: one function for every backend.

From draws under the shared names (``beta``, ``b_<label>``, ``sigma``, ``cutpoints``, ``phi``,
``nu``, ``beta_zi``) it
computes η = offset + Xβ + Zb per row and draw and log p(y_i | η_i) through the families' row
kernel (:func:`bayesmix.families.kernels.row_loglik`): R's constants included, exact in the
tails (no clipped μ), prior weights as in the model (precision weights for the Gaussian
family, multiplying the log-likelihood otherwise; rows of weight 0 get 0). Every backend
stores the same numbers for the same draws, so ``az.loo`` / ``az.compare`` across backends
compare like with like.
"""

from __future__ import annotations

from typing import Mapping

import numba as nb
import numpy as np

from ..families import kernels as fk
from . import naming

__all__ = ["pointwise_loglik"]

# Draws of Zb are formed in blocks of at most this many values (q × draws).
_BLOCK_VALUES = 4_000_000


@nb.njit(parallel=True, cache=True)
def _loglik_rows(fam, link, y, trials, w, const, sigma, alpha, zdata, zcols, width, X,
                 offset, Bt, Bz, Xzi, Gt, out):
    """out[s, i] = log p(y_i | η_is), η = offset + Xβ_s + Z b_s, rows in parallel blocks;
    for a zero-inflated family the row's ζ_is = X_zi γ_s (``Xzi`` n × m, ``Gt`` m × S)
    takes the trials' place.

    ``Bt`` (p × S) and ``Bz`` (q × S) hold the draws draw-minor, so the inner loops over draws
    are contiguous; each block of rows is transposed into ``out`` (S × n) at its end.
    """
    S = Bt.shape[1]
    n = y.shape[0]
    p = X.shape[1]
    block = 64
    n_blocks = (n + block - 1) // block
    has_n, has_w, has_off = trials.shape[0] > 0, w.shape[0] > 0, offset.shape[0] > 0
    for bi in nb.prange(n_blocks):
        i0 = bi * block
        i1 = min(n, i0 + block)
        buf = np.empty((i1 - i0, S))
        eta = np.empty(S)
        zeta = np.empty(S)
        m_zi = Xzi.shape[1]
        for i in range(i0, i1):
            o = offset[i] if has_off else 0.0
            for s in range(S):
                eta[s] = o
            for k in range(p):
                xk = X[i, k]
                for s in range(S):
                    eta[s] += xk * Bt[k, s]
            base = i * width
            for f in range(width):
                z = zdata[base + f]
                c = zcols[base + f]
                for s in range(S):
                    eta[s] += z * Bz[c, s]
            ni = trials[i] if has_n else 1.0
            wi = w[i] if has_w else 1.0
            if m_zi > 0:
                for s in range(S):
                    zeta[s] = 0.0
                for k in range(m_zi):
                    xk = Xzi[i, k]
                    for s in range(S):
                        zeta[s] += xk * Gt[k, s]
            for s in range(S):
                buf[i - i0, s] = fk.row_loglik(fam, link, y[i], eta[s],
                                               zeta[s] if m_zi > 0 else ni, wi, sigma[s],
                                               alpha[s], const[i])
        for s in range(S):
            for i in range(i0, i1):
                out[s, i] = buf[i - i0, s]


def _flat(posterior: Mapping[str, np.ndarray], name: str, total: int) -> np.ndarray:
    arr = np.asarray(posterior[name], dtype=float)
    return arr.reshape(total, *arr.shape[2:])


def _b_block(design, posterior, sl: slice, total: int) -> np.ndarray:
    """Zb's coefficients b for the draws in ``sl``, in Z's column layout, shape (q, S)."""
    out = np.empty((design.q, sl.stop - sl.start))
    for t in design.terms:
        b = _flat(posterior, naming.b_var(t.label), total)[sl]
        out[t.z_offset:t.z_offset + t.q] = b.reshape(b.shape[0], t.q).T
    return out


def pointwise_loglik(design, posterior: Mapping[str, np.ndarray]) -> np.ndarray:
    """log p(y_i | draw) for every draw and row, shape (chain, draw, n).

    Parameters
    ----------
    design : Design
    posterior : mapping of shared names to draws shaped (chain, draw, ...)
    """
    beta = np.asarray(posterior[naming.BETA])
    chains, draws = beta.shape[:2]
    total, n = chains * draws, design.n
    fam, link = fk.codes(design.family)
    y = np.ascontiguousarray(design.y, dtype=float)
    trials = np.zeros(0) if design.trials is None else np.asarray(design.trials, float)
    w = np.zeros(0) if design.weights is None else np.asarray(design.weights, float)
    offset = np.zeros(0) if design.offset is None else np.asarray(design.offset, float)
    const = fk.row_constants(fam, y, design.trials)
    sigma = (_flat(posterior, naming.SIGMA, total) if design.family.has_sigma
             else np.ones(total))
    if design.family.name == "ordinal":
        alpha = _flat(posterior, naming.CUTPOINTS, total)
    else:
        alpha = np.zeros((total, len(design.family.kernel_parameters)))
        for k, name in enumerate(design.family.kernel_parameters):
            alpha[:, k] = _flat(posterior, name, total)
    X = np.ascontiguousarray(design.X, dtype=float)
    if design.X_zi is not None:
        Xzi = np.ascontiguousarray(design.X_zi, dtype=float)
        flat_gamma = _flat(posterior, naming.BETA_ZI, total)
    else:
        Xzi, flat_gamma = np.zeros((n, 0)), np.zeros((total, 0))
    Z = design.Z
    width = int(Z.indptr[1] - Z.indptr[0]) if n and design.q else 0
    zdata = np.ascontiguousarray(Z.data, dtype=float) if width else np.zeros(0)
    zcols = np.ascontiguousarray(Z.indices, dtype=np.int64) if width else np.zeros(0, np.int64)
    out = np.empty((total, n))
    step = max(1, _BLOCK_VALUES // max(design.q + design.p, 1))
    flat_beta = beta.reshape(total, -1)
    for start in range(0, total, step):
        sl = slice(start, min(start + step, total))
        Bt = np.ascontiguousarray(flat_beta[sl].T)
        Bz = _b_block(design, posterior, sl, total) if width else np.zeros((0, Bt.shape[1]))
        block = np.empty((sl.stop - sl.start, n))
        _loglik_rows(fam, link, y, trials, w, const, np.ascontiguousarray(sigma[sl]),
                     np.ascontiguousarray(alpha[sl]), zdata, zcols, width, X, offset, Bt,
                     Bz, Xzi, np.ascontiguousarray(flat_gamma[sl].T), block)
        out[sl] = block
    return out.reshape(chains, draws, n)
