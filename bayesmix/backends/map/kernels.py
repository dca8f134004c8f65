"""The data passes of the Newton solver (numba, parallel over chunks of primary levels).

Notation of :mod:`.layout`: x = (γ, u₁, v); row i has η_i = Xf_i β + A1_i u₁[j(i)] +
Σ_dense Ad_i u_s + Σ_iter At_i v_t + offset_i. Rows are sorted by their primary level j, so a
chunk of consecutive levels is a contiguous range of rows; each chunk writes its own slice of
the ``*_part`` arrays (summed by the caller), never another chunk's.

:func:`newton_pass` is the one fused pass per Newton iteration: the objective, the gradient,
every Hessian block, and, level by level as soon as its rows are done, the block Cholesky
factor L_j of H_jj = A_jᵀ W A_j + I, C_j = L_j⁻¹ H_jγ and c_j = L_j⁻¹ g_j, with their Schur
contributions −C_jᵀC_j and −C_jᵀc_j to the dense block. :func:`hess_vec` and
:func:`noise_pass` are the data passes of conjugate gradients (Hessian-vector products from
the row Hessians stored by the Newton pass) and of perturbation sampling.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .rows import row_terms

__all__ = ["newton_pass", "hess_vec", "hess_vec1", "noise_pass", "iterative_dot", "term_sums",
           "term_grad_gram"]


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
def _gpos(a, j, P0, pat_ptr, pat):
    """γ position of local index a of primary level j."""
    if a < P0:
        return a
    return pat[pat_ptr[j] + a - P0]


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
        ga = _gpos(a, j, P0, pat_ptr, pat)
        acc = 0.0
        for c in range(r1):
            acc += Cj[c, a] * cvec[j, c]
        rhs[ga] -= acc
        for b in range(Pj):
            gb = _gpos(b, j, P0, pat_ptr, pat)
            acc = 0.0
            for c in range(r1):
                acc += Cj[c, a] * Cj[c, b]
            S[ga, gb] -= acc
    return pen


@nb.njit(parallel=True, cache=True)
def newton_pass(fam, sigma2, chunks, level_ptr, y, w, trials, offset, Xf, A1, Ad, dcol, pos_d,
                loc_d, pat_ptr, pat, eta_it, gam, n_alpha, u1, store, hrow, rowg,
                L, C, C_ptr, cvec, gu, F_part, g_part, S_part, rhs_part):
    p, r1 = Xf.shape[1], A1.shape[1]
    nd = pos_d.shape[1]
    P0 = n_alpha + p
    alpha = gam[:n_alpha]
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
                    fam, y[i], eta, w[i] if has_w else 1.0, trials[i] if has_n else 1.0,
                    sigma2, alpha)
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
