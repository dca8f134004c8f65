"""numba row loops of the Laplace-deviance gradient (see :mod:`.gradient`).

Every row i of ZΛ holds ``width`` entries m_i (columns ``cols``); ``rinv[i]`` is A⁻¹ on those
columns. θ_t moves one entry of each row: entry ``entry[t]`` by ``dm[i, t]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["leverage_pass", "coefficient_pass", "lmm_pass",
           "dm_transpose", "dm_times", "weighted_cross"]


@njit(cache=True, nogil=True)
def leverage_pass(data, width, rinv, w, wprime, dm, entry, v, g_theta):
    """v_i = h_i w'_i with h_i = m_iᵀA⁻¹m_i; g_theta += 2 Σ_i w_i dm_{t,i} (A⁻¹m_i)[e_t]."""
    n = v.shape[0]
    nt = entry.shape[0]
    Rm = np.empty(width)
    for i in range(n):
        base = i * width
        h = 0.0
        for e in range(width):
            s = 0.0
            for f in range(width):
                s += rinv[i, e, f] * data[base + f]
            Rm[e] = s
            h += data[base + e] * s
        v[i] = h * wprime[i]
        for t in range(nt):
            g_theta[t] += 2.0 * w[i] * dm[i, t] * Rm[entry[t]]


@njit(cache=True, nogil=True)
def coefficient_pass(data, cols, width, w, score, v, z, u, dm, entry, c, g_theta):
    """c_i = −2s_i + v_i − w_i (Mz)_i and the θ terms c_i a_{t,i} + s_i (dM_t z)_i."""
    n = c.shape[0]
    nt = entry.shape[0]
    for i in range(n):
        base = i * width
        mz = 0.0
        for e in range(width):
            mz += data[base + e] * z[cols[base + e]]
        ci = -2.0 * score[i] + v[i] - w[i] * mz
        c[i] = ci
        for t in range(nt):
            col = cols[base + entry[t]]
            g_theta[t] += dm[i, t] * (ci * u[col] + score[i] * z[col])


@njit(cache=True, nogil=True)
def lmm_pass(data, cols, width, rinv, w, resid, u, dm, entry, K, V, g_ldl, g_pwrss, g_ldrx):
    """Row sums of the profiled-deviance gradient pieces for every θ_t:
    ∂ldL2 = 2 Σ wᵢ dmᵢ (A⁻¹mᵢ)[e_t], ∂pwrss = −2 Σ wᵢ rᵢ dmᵢ u[c], ∂ldRX2 = −2 Σ dmᵢ Kᵢ·V[c].
    ``rinv`` with zero rows skips ∂ldL2 (computed from the diagonal blocks instead)."""
    n = resid.shape[0]
    with_ldl = rinv.shape[0] > 0
    nt = entry.shape[0]
    p = K.shape[1]
    for i in range(n):
        base = i * width
        wi = 1.0 if w.shape[0] == 0 else w[i]
        for t in range(nt):
            e = entry[t]
            d = dm[i, t]
            if d == 0.0:
                continue
            col = cols[base + e]
            if with_ldl:
                s = 0.0
                for f in range(width):
                    s += rinv[i, e, f] * data[base + f]
                g_ldl[t] += 2.0 * wi * d * s
            g_pwrss[t] -= 2.0 * wi * resid[i] * d * u[col]
            kv = 0.0
            for k in range(p):
                kv += K[i, k] * V[col, k]
            g_ldrx[t] -= 2.0 * d * kv


@njit(cache=True, nogil=True)
def dm_transpose(cols, width, dm, entry, s, q):
    """(∂M/∂θ_t)ᵀ s for every t: out[c, t] = Σ_i dm_{i,t} s_i over the rows whose entry
    ``entry[t]`` sits in column c."""
    n, nt = dm.shape
    out = np.zeros((q, nt))
    for i in range(n):
        base = i * width
        for t in range(nt):
            out[cols[base + entry[t]], t] += dm[i, t] * s[i]
    return out


@njit(cache=True, nogil=True)
def dm_times(cols, width, dm, entry, u, out):
    """(∂M/∂θ_t) u for every t: out[i, t] = dm_{i,t} u[column of entry t of row i] (in place:
    adds to ``out``)."""
    n, nt = dm.shape
    for i in range(n):
        base = i * width
        for t in range(nt):
            out[i, t] += dm[i, t] * u[cols[base + entry[t]]]


@njit(cache=True, nogil=True)
def weighted_cross(data, cols, width, w, B, q):
    """C = MᵀWB (q × k) in one pass over the rows (``w`` empty: W = I).

    The scatter into C is random access when the levels are spread over the rows; callers
    pass a few columns at a time (the cost grew 5× from 3 to 5 columns at q = 200k, when C
    outgrew the cache).
    """
    n, k = B.shape
    C = np.zeros((q, k))
    for i in range(n):
        wi = 1.0 if w.shape[0] == 0 else w[i]
        base = i * width
        for e in range(width):
            col = cols[base + e]
            v = data[base + e] * wi
            for a in range(k):
                C[col, a] += v * B[i, a]
    return C
