"""The fused data pass of each Newton iteration (numba, parallel over chunks of primary levels).

Notation of :mod:`.layout`: x = (γ, u₁, v); row i has η_i = Xf_i β + A1_i u₁[j(i)] +
Σ_dense Ad_i u_s + (iterative terms' part, precomputed per row) + offset_i. Rows are sorted by
their primary level j, so a chunk of consecutive levels is a contiguous range of rows; each
chunk writes its own slice of the ``*_part`` arrays (summed by the caller), never another
chunk's.

:func:`newton_pass` computes, in one pass, the objective, the gradient, every Hessian block,
and, level by level as soon as its rows are done, the block Cholesky factor L_j of
H_jj = A_jᵀ W A_j + I, C_j = L_j⁻¹ H_jγ and c_j = L_j⁻¹ g_j, with their Schur contributions
−C_jᵀC_j and −C_jᵀc_j to the dense block. With iterative terms it also leaves each row's
gradient and Hessian in η for :mod:`.hessian_kernels`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...families.kernels import row_terms
from ...linalg.schur import gamma_position

__all__ = ["newton_pass"]


@nb.njit(cache=True, inline="always")
def _eta(i, j, Xf, A1, Ad, dcol, pos_d, eta_it, gam, n_alpha, u1, offset):
    e = offset[i] if offset.shape[0] > 0 else 0.0
    if eta_it.shape[0] > 0:
        e += eta_it[i]
    for k in range(Xf.shape[1]):
        e += Xf[i, k] * gam[n_alpha + k]
    for a in range(A1.shape[1]):
        e += A1[i, a] * u1[j, a]
    for s in range(pos_d.shape[1]):
        base = pos_d[i, s]
        for c in range(dcol[s + 1] - dcol[s]):
            e += Ad[i, dcol[s] + c] * gam[base + c]
    return e


@nb.njit(cache=True, inline="always")
def _dense_row(i, j, ge, he, lo, hi, helo, hehi, Xf, A1, Ad, dcol, pos_d, loc_d, n_alpha, g, S,
               Cj):
    """Row i's terms that involve the dense crossed effects (γ positions beyond β)."""
    p, r1 = Xf.shape[1], A1.shape[1]
    for s in range(pos_d.shape[1]):
        for c in range(dcol[s + 1] - dcol[s]):
            x, gp, lp = Ad[i, dcol[s] + c], pos_d[i, s] + c, loc_d[i, s] + c
            g[gp] += ge * x
            hx = he * x
            for k in range(p):
                S[gp, n_alpha + k] += hx * Xf[i, k]
                S[n_alpha + k, gp] += hx * Xf[i, k]
            for s2 in range(pos_d.shape[1]):
                for c2 in range(dcol[s2 + 1] - dcol[s2]):
                    S[gp, pos_d[i, s2] + c2] += hx * Ad[i, dcol[s2] + c2]
            for a in range(r1):
                Cj[a, lp] += hx * A1[i, a]
            if lo >= 0:
                S[lo, gp] += helo * x
                S[gp, lo] += helo * x
            if hi >= 0:
                S[hi, gp] += hehi * x
                S[gp, hi] += hehi * x


@nb.njit(cache=True, inline="always")
def _cutpoint_row(i, ge, he, lo, hi, glo, ghi, hll, hlh, hhh, helo, hehi, Xf, A1, n_alpha, g,
                  S, Cj):
    """Row i's ordinal terms: thresholds α_lo, α_hi against themselves, β and u_j."""
    for k in range(Xf.shape[1]):
        x = Xf[i, k]
        if lo >= 0:
            S[lo, n_alpha + k] += helo * x
            S[n_alpha + k, lo] += helo * x
        if hi >= 0:
            S[hi, n_alpha + k] += hehi * x
            S[n_alpha + k, hi] += hehi * x
    for a in range(A1.shape[1]):
        if lo >= 0:
            Cj[a, lo] += helo * A1[i, a]
        if hi >= 0:
            Cj[a, hi] += hehi * A1[i, a]
    if lo >= 0:
        g[lo] += glo
        S[lo, lo] += hll
    if hi >= 0:
        g[hi] += ghi
        S[hi, hi] += hhh
    if lo >= 0 and hi >= 0:
        S[lo, hi] += hlh
        S[hi, lo] += hlh


@nb.njit(cache=True, inline="always")
def _finish_level(j, P0, Pj, pat_ptr, pat, Huu, gl, u1, L, Cj, cvec, gu, S, rhs):
    """Add u_j's prior, factor H_jj = L_j L_jᵀ, form C_j = L_j⁻¹ H_jγ and c_j = L_j⁻¹ g_j in
    place, and subtract C_jᵀC_j, C_jᵀc_j from the dense block. Returns ½‖u_j‖²."""
    r1 = Huu.shape[0]
    pen = 0.0
    for a in range(r1):
        Huu[a, a] += 1.0
        gl[a] += u1[j, a]
        pen += 0.5 * u1[j, a] * u1[j, a]
        gu[j, a] = gl[a]
    Lj = L[j]
    for a in range(r1):
        for b in range(a + 1):
            acc = Huu[a, b]
            for c in range(b):
                acc -= Lj[a, c] * Lj[b, c]
            if a == b:
                Lj[a, a] = np.sqrt(max(acc, 1e-300))
            else:
                Lj[a, b] = acc / Lj[b, b]
        for b in range(a + 1, r1):
            Lj[a, b] = 0.0
    for a in range(r1):
        acc = gl[a]
        for c in range(a):
            acc -= Lj[a, c] * cvec[j, c]
        cvec[j, a] = acc / Lj[a, a]
        for col in range(Pj):
            acc = Cj[a, col]
            for c in range(a):
                acc -= Lj[a, c] * Cj[c, col]
            Cj[a, col] = acc / Lj[a, a]
    for a in range(Pj):
        ga = gamma_position(a, j, P0, pat_ptr, pat)
        acc = 0.0
        for c in range(r1):
            acc += Cj[c, a] * cvec[j, c]
        rhs[ga] -= acc
        for b in range(Pj):
            gb = gamma_position(b, j, P0, pat_ptr, pat)
            acc = 0.0
            for c in range(r1):
                acc += Cj[c, a] * Cj[c, b]
            S[ga, gb] -= acc
    return pen


@nb.njit(parallel=True, cache=True)
def newton_pass(fam, link, sigma2, fparams, chunks, level_ptr, y, w, trials, offset, Xf, A1, Ad, dcol,
                pos_d, loc_d, pat_ptr, pat, eta_it, gam, n_alpha, u1, store, hrow, rowg,
                L, C, C_ptr, cvec, gu, F_part, g_part, S_part, rhs_part):
    p, r1 = Xf.shape[1], A1.shape[1]
    nd = pos_d.shape[1]
    P0 = n_alpha + p
    # The row kernel's parameter vector: the thresholds in γ, or the family's fixed φ / σ, ν.
    alpha = gam[:n_alpha] if n_alpha > 0 else fparams
    has_w, has_n = w.shape[0] > 0, trials.shape[0] > 0
    wide = hrow.shape[1] > 1
    for ch in nb.prange(chunks.shape[0] - 1):
        g, S, rhs = g_part[ch], S_part[ch], rhs_part[ch]
        g[:] = 0.0
        S[:, :] = 0.0
        rhs[:] = 0.0
        Huu = np.empty((r1, r1))
        gl = np.empty(r1)
        F = 0.0
        for j in range(chunks[ch], chunks[ch + 1]):
            Pj = P0 + pat_ptr[j + 1] - pat_ptr[j]
            Cj = C[C_ptr[j]:C_ptr[j] + r1 * Pj].reshape((r1, Pj))
            Cj[:, :] = 0.0
            Huu[:, :] = 0.0
            gl[:] = 0.0
            for i in range(level_ptr[j], level_ptr[j + 1]):
                eta = _eta(i, j, Xf, A1, Ad, dcol, pos_d, eta_it, gam, n_alpha, u1, offset)
                (f, ge, he, lo, hi, glo, ghi, hll, hlh, hhh, helo, hehi) = row_terms(
                    fam, link, y[i], eta, trials[i] if has_n else 1.0, w[i] if has_w else 1.0,
                    sigma2, alpha)
                # A negative observed information (t, beta, NB1 rows) is clipped: the
                # Hessian stays positive definite and the steps descend.
                he = max(he, 0.0)
                F += f
                for k in range(p):
                    x = Xf[i, k]
                    g[n_alpha + k] += ge * x
                    hx = he * x
                    for l in range(p):
                        S[n_alpha + k, n_alpha + l] += hx * Xf[i, l]
                for a in range(r1):
                    x = A1[i, a]
                    gl[a] += ge * x
                    hx = he * x
                    for b in range(r1):
                        Huu[a, b] += hx * A1[i, b]
                    for k in range(p):
                        Cj[a, n_alpha + k] += hx * Xf[i, k]
                if nd > 0:
                    _dense_row(i, j, ge, he, lo, hi, helo, hehi, Xf, A1, Ad, dcol, pos_d,
                               loc_d, n_alpha, g, S, Cj)
                if n_alpha > 0:
                    _cutpoint_row(i, ge, he, lo, hi, glo, ghi, hll, hlh, hhh, helo, hehi, Xf,
                                  A1, n_alpha, g, S, Cj)
                if store:
                    rowg[i] = ge
                    hrow[i, 0] = he
                    if wide:
                        hrow[i, 1] = helo
                        hrow[i, 2] = hehi
                        hrow[i, 3] = hll
                        hrow[i, 4] = hlh
                        hrow[i, 5] = hhh
            F += _finish_level(j, P0, Pj, pat_ptr, pat, Huu, gl, u1, L, Cj, cvec, gu, S, rhs)
        F_part[ch] = F
