"""The data passes of conjugate gradients and perturbation sampling (numba).

With a large crossed (iterative) term, products with the Hessian H = Σ_i J_iᵀ H_i J_i + prior
need a pass over the rows, using the row Hessians H_i the Newton pass stored. Iterative terms
are only *read* inside the row passes, by :func:`iterative_dot` in a tight gather loop of its
own; what they receive is left per row and summed per level by :func:`term_sums` /
:func:`term_grad_gram` through a counting sort of their codes. (Random scattered writes into a
million-level vector from every thread, or random reads inside the long per-row computations,
are what makes crossed designs slow.) The kernels take D vectors at once (the last axis), so
one pass over the data serves a block of right-hand sides.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["iterative_dot", "hess_vec", "hess_vec1", "noise_pass", "term_sums",
           "term_grad_gram"]


@nb.njit(parallel=True, cache=True)
def iterative_dot(At, tcol, pos_t, v, out):
    """out[i, d] = Σ_t At_i,t · v_t[level of row i] for D columns: the iterative terms' part of
    η (or of J d), gathered in a tight loop of its own so that the random reads overlap
    instead of stalling the long per-row computations that consume them."""
    D = v.shape[1]
    if pos_t.shape[1] == 1 and At.shape[1] == 1:
        for i in nb.prange(At.shape[0]):
            x, base = At[i, 0], pos_t[i, 0]
            for d in range(D):
                out[i, d] = x * v[base, d]
        return
    for i in nb.prange(At.shape[0]):
        for d in range(D):
            out[i, d] = 0.0
        for t in range(pos_t.shape[1]):
            base = pos_t[i, t]
            for c in range(tcol[t + 1] - tcol[t]):
                x = At[i, tcol[t] + c]
                for d in range(D):
                    out[i, d] += x * v[base + c, d]


@nb.njit(cache=True, inline="always")
def _bounds(ordinal, y_i, n_alpha):
    if not ordinal:
        return -1, -1
    k = int(y_i)
    return k - 1, (k if k < n_alpha else -1)


@nb.njit(cache=True, inline="always")
def _directional(i, j, Xf, A1, Ad, dcol, pos_d, n_alpha, d_gam, d_u1, t_it, t):
    """t[:] = ∇η_i · d for the D columns of d (the last axis of d_gam, d_u1; the iterative
    terms' part precomputed in t_it)."""
    for d in range(t.shape[0]):
        t[d] = t_it[i, d] if t_it.shape[0] > 0 else 0.0
    for k in range(Xf.shape[1]):
        x = Xf[i, k]
        for d in range(t.shape[0]):
            t[d] += x * d_gam[n_alpha + k, d]
    for a in range(A1.shape[1]):
        x = A1[i, a]
        for d in range(t.shape[0]):
            t[d] += x * d_u1[j, a, d]
    for s in range(pos_d.shape[1]):
        for c in range(dcol[s + 1] - dcol[s]):
            x, row = Ad[i, dcol[s] + c], pos_d[i, s] + c
            for d in range(t.shape[0]):
                t[d] += x * d_gam[row, d]


@nb.njit(cache=True, inline="always")
def _scatter(i, j, oe, ol, oh, lo, hi, Xf, A1, Ad, dcol, pos_d, n_alpha, og, out_u1, rowo):
    """Add J_iᵀ (oe, ol, oh) (per column) to the outputs; the iterative terms' part is left in
    rowo[i] for :func:`term_sums`."""
    D = oe.shape[0]
    for k in range(Xf.shape[1]):
        x = Xf[i, k]
        for d in range(D):
            og[n_alpha + k, d] += x * oe[d]
    for a in range(A1.shape[1]):
        x = A1[i, a]
        for d in range(D):
            out_u1[j, a, d] += x * oe[d]
    for s in range(pos_d.shape[1]):
        for c in range(dcol[s + 1] - dcol[s]):
            x, row = Ad[i, dcol[s] + c], pos_d[i, s] + c
            for d in range(D):
                og[row, d] += x * oe[d]
    for d in range(D):
        rowo[i, d] = oe[d]
    if lo >= 0:
        for d in range(D):
            og[lo, d] += ol[d]
    if hi >= 0:
        for d in range(D):
            og[hi, d] += oh[d]


@nb.njit(parallel=True, cache=True)
def hess_vec(chunks, level_ptr, y, Xf, A1, Ad, dcol, pos_d, n_alpha, hrow, d_gam, d_u1, t_it,
             out_u1, og_part, rowo):
    """Σ_i J_iᵀ H_i J_i d for D vectors at once (the likelihood part of H d).

    The D columns are the last axis everywhere, so the random access to a crossed factor's
    level fetches all D values in one cache line.
    """
    ordinal = hrow.shape[1] > 1
    D = d_gam.shape[1]
    for ch in nb.prange(chunks.shape[0] - 1):
        og = og_part[ch]
        og[:, :] = 0.0
        t, oe = np.empty(D), np.empty(D)
        ol, oh = np.zeros(D), np.zeros(D)
        for j in range(chunks[ch], chunks[ch + 1]):
            out_u1[j, :, :] = 0.0
            for i in range(level_ptr[j], level_ptr[j + 1]):
                _directional(i, j, Xf, A1, Ad, dcol, pos_d, n_alpha, d_gam, d_u1, t_it, t)
                lo, hi = _bounds(ordinal, y[i], n_alpha)
                h = hrow[i, 0]
                for d in range(D):
                    oe[d] = h * t[d]
                if ordinal:
                    for d in range(D):
                        dl = d_gam[lo, d] if lo >= 0 else 0.0
                        dh = d_gam[hi, d] if hi >= 0 else 0.0
                        oe[d] += hrow[i, 1] * dl + hrow[i, 2] * dh
                        ol[d] = hrow[i, 1] * t[d] + hrow[i, 3] * dl + hrow[i, 4] * dh
                        oh[d] = hrow[i, 2] * t[d] + hrow[i, 4] * dl + hrow[i, 5] * dh
                _scatter(i, j, oe, ol, oh, lo, hi, Xf, A1, Ad, dcol, pos_d, n_alpha, og, out_u1,
                         rowo)


@nb.njit(parallel=True, cache=True)
def hess_vec1(chunks, level_ptr, y, Xf, A1, Ad, dcol, pos_d, n_alpha, hrow, d_gam, d_u1, t_it,
              out_u1, og_part, rowo):
    """:func:`hess_vec` for one vector (the Newton steps' CG), with scalar temporaries."""
    ordinal = hrow.shape[1] > 1
    p, r1 = Xf.shape[1], A1.shape[1]
    for ch in nb.prange(chunks.shape[0] - 1):
        og = og_part[ch]
        og[:] = 0.0
        for j in range(chunks[ch], chunks[ch + 1]):
            for a in range(r1):
                out_u1[j, a] = 0.0
            for i in range(level_ptr[j], level_ptr[j + 1]):
                t = t_it[i] if t_it.shape[0] > 0 else 0.0
                for k in range(p):
                    t += Xf[i, k] * d_gam[n_alpha + k]
                for a in range(r1):
                    t += A1[i, a] * d_u1[j, a]
                for s in range(pos_d.shape[1]):
                    for c in range(dcol[s + 1] - dcol[s]):
                        t += Ad[i, dcol[s] + c] * d_gam[pos_d[i, s] + c]
                oe = hrow[i, 0] * t
                if ordinal:
                    lo, hi = _bounds(True, y[i], n_alpha)
                    dl = d_gam[lo] if lo >= 0 else 0.0
                    dh = d_gam[hi] if hi >= 0 else 0.0
                    oe += hrow[i, 1] * dl + hrow[i, 2] * dh
                    if lo >= 0:
                        og[lo] += hrow[i, 1] * t + hrow[i, 3] * dl + hrow[i, 4] * dh
                    if hi >= 0:
                        og[hi] += hrow[i, 2] * t + hrow[i, 4] * dl + hrow[i, 5] * dh
                for k in range(p):
                    og[n_alpha + k] += oe * Xf[i, k]
                for a in range(r1):
                    out_u1[j, a] += oe * A1[i, a]
                for s in range(pos_d.shape[1]):
                    for c in range(dcol[s + 1] - dcol[s]):
                        og[pos_d[i, s] + c] += oe * Ad[i, dcol[s] + c]
                rowo[i] = oe


@nb.njit(parallel=True, cache=True)
def noise_pass(chunks, level_ptr, y, Xf, A1, Ad, dcol, pos_d, n_alpha, hrow, z, out_u1,
               og_part, rowo):
    """Σ_i J_iᵀ R_i z_i with R_i R_iᵀ = H_i, for the D columns of z (n, 2D for the ordinal
    family, else n, D; standard normal): draws of N(0, Σ_i J_iᵀ H_i J_i).

    For the ordinal family H_i = Kᵀ h_z K in the coordinates z = (α_lo − η, α_hi − η), so
    R_i = Kᵀ chol(h_z).
    """
    ordinal = hrow.shape[1] > 1
    D = out_u1.shape[2]
    for ch in nb.prange(chunks.shape[0] - 1):
        og = og_part[ch]
        og[:, :] = 0.0
        oe, ol, oh = np.empty(D), np.zeros(D), np.zeros(D)
        for j in range(chunks[ch], chunks[ch + 1]):
            out_u1[j, :, :] = 0.0
            for i in range(level_ptr[j], level_ptr[j + 1]):
                lo, hi = _bounds(ordinal, y[i], n_alpha)
                if not ordinal:
                    root = np.sqrt(max(hrow[i, 0], 0.0))
                    for d in range(D):
                        oe[d] = root * z[i, d]
                else:
                    hll, hlh, hhh = hrow[i, 3], hrow[i, 4], hrow[i, 5]
                    l11 = np.sqrt(max(hll, 0.0))
                    l21 = hlh / l11 if l11 > 0 else 0.0
                    l22 = np.sqrt(max(hhh - l21 * l21, 0.0))
                    for d in range(D):
                        z0, z1 = z[i, 2 * d], z[i, 2 * d + 1]
                        if lo >= 0 and hi >= 0:
                            ol[d], oh[d] = l11 * z0, l21 * z0 + l22 * z1
                        elif lo >= 0:
                            ol[d], oh[d] = l11 * z0, 0.0
                        else:
                            ol[d], oh[d] = 0.0, np.sqrt(max(hhh, 0.0)) * z0
                        oe[d] = -(ol[d] + oh[d])
                _scatter(i, j, oe, ol, oh, lo, hi, Xf, A1, Ad, dcol, pos_d, n_alpha, og, out_u1,
                         rowo)


@nb.njit(parallel=True, cache=True)
def term_sums(ptr, rows, A, rowval, out):
    """out[h, a, d] = Σ_{i in level h} A_i[a] rowval[i, d] for one iterative term.

    ``rows`` lists the rows (in primary order) level by level (a counting sort of the term's
    codes) and ``A`` holds the term's columns in that order: the writes are sequential and
    only ``rowval`` is gathered, so no thread needs a private copy of the term's vector.
    """
    r, D = A.shape[1], rowval.shape[1]
    if r == 1 and D == 1:
        for h in nb.prange(ptr.shape[0] - 1):
            acc = 0.0
            for k in range(ptr[h], ptr[h + 1]):
                acc += A[k, 0] * rowval[rows[k], 0]
            out[h, 0, 0] = acc
        return
    if r == 1:
        for h in nb.prange(ptr.shape[0] - 1):
            for d in range(D):
                out[h, 0, d] = 0.0
            for k in range(ptr[h], ptr[h + 1]):
                x, i = A[k, 0], rows[k]
                for d in range(D):
                    out[h, 0, d] += x * rowval[i, d]
        return
    for h in nb.prange(ptr.shape[0] - 1):
        for a in range(r):
            for d in range(D):
                out[h, a, d] = 0.0
        for k in range(ptr[h], ptr[h + 1]):
            i = rows[k]
            for a in range(r):
                x = A[k, a]
                for d in range(D):
                    out[h, a, d] += x * rowval[i, d]


@nb.njit(parallel=True, cache=True)
def term_grad_gram(ptr, rows, A, grad_row, hess_row, g_out, H_out):
    """For one iterative term, per level h: g_out[h] = Σ_i grad_row_i A_i and
    H_out[h] = Σ_i hess_row_i A_i A_iᵀ (its gradient and diagonal Hessian block), in one
    gather over the level's rows."""
    r = A.shape[1]
    for h in nb.prange(ptr.shape[0] - 1):
        if r == 1:
            gs, hs = 0.0, 0.0
            for k in range(ptr[h], ptr[h + 1]):
                i, x = rows[k], A[k, 0]
                gs += grad_row[i] * x
                hs += hess_row[i] * x * x
            g_out[h, 0] = gs
            H_out[h, 0, 0] = hs
            continue
        g_out[h, :] = 0.0
        H_out[h, :, :] = 0.0
        for k in range(ptr[h], ptr[h + 1]):
            i = rows[k]
            gi, hi = grad_row[i], hess_row[i]
            for a in range(r):
                g_out[h, a] += gi * A[k, a]
                for b in range(r):
                    H_out[h, a, b] += hi * A[k, a] * A[k, b]
