"""Block elimination with the level factors of the largest grouping factor (numba).

For the (γ, u₁) block of the Hessian, with H_jj = L_j L_jᵀ, C_j = L_j⁻¹ H_jγ and the Schur
complement S = H_γγ − Σ_j C_jᵀ C_j (from :func:`bayesmix.latent.rows.kernels.newton_pass`):

- solve: c_j = L_j⁻¹ r_j (:func:`forward`, which also returns Σ_j C_jᵀ c_j), then
  x_γ = S⁻¹ (r_γ − Σ_j C_jᵀ c_j) and x_j = L_j⁻ᵀ (c_j − C_j x_γ) (:func:`back`);
- inverse: (H⁻¹)_jj = L_j⁻ᵀ (I + C_j S⁻¹ C_jᵀ) L_j⁻¹ (:func:`cond_var`), exact: the block
  inverse plus the low-rank correction through γ;
- draws: γ ~ N(γ̂, S⁻¹), then u_j | γ ~ N(û_j − L_j⁻ᵀ C_j (γ − γ̂), (L_j L_jᵀ)⁻¹)
  (:func:`draws`), an exact draw from N(x̂, H⁻¹).

Only the local columns of C_j (the γ positions level j touches) are stored.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["forward", "back", "cond_var", "draws", "gamma_position"]


@nb.njit(cache=True, inline="always")
def gamma_position(a, j, P0, pat_ptr, pat):
    """Position in γ of local index a of primary level j: the first P0 entries of γ are
    shared by every level, the rest are the level's own pattern ``pat``."""
    if a < P0:
        return a
    return pat[pat_ptr[j] + a - P0]


@nb.njit(cache=True, inline="always")
def _back_solve(Lj, t, out):
    """out = L_j⁻ᵀ t."""
    r = t.shape[0]
    for a in range(r - 1, -1, -1):
        acc = t[a]
        for c in range(a + 1, r):
            acc -= Lj[c, a] * out[c]
        out[a] = acc / Lj[a, a]


@nb.njit(parallel=True, cache=True)
def forward(chunks, L, C, C_ptr, pat_ptr, pat, P0, r_u1, c_out, rhs_part):
    """c_j = L_j⁻¹ r_j for every level; rhs_part[chunk] = −Σ_j C_jᵀ c_j over the chunk.

    All for D right-hand sides at once (last axis of r_u1, c_out, rhs_part).
    """
    r1, D = L.shape[1], r_u1.shape[2]
    for ch in nb.prange(chunks.shape[0] - 1):
        rhs = rhs_part[ch]
        rhs[:, :] = 0.0
        for j in range(chunks[ch], chunks[ch + 1]):
            Pj = P0 + pat_ptr[j + 1] - pat_ptr[j]
            Cj = C[C_ptr[j]:C_ptr[j] + r1 * Pj].reshape((r1, Pj))
            Lj = L[j]
            for d in range(D):
                for a in range(r1):
                    acc = r_u1[j, a, d]
                    for c in range(a):
                        acc -= Lj[a, c] * c_out[j, c, d]
                    c_out[j, a, d] = acc / Lj[a, a]
            for a in range(Pj):
                ga = gamma_position(a, j, P0, pat_ptr, pat)
                for d in range(D):
                    acc = 0.0
                    for c in range(r1):
                        acc += Cj[c, a] * c_out[j, c, d]
                    rhs[ga, d] -= acc


@nb.njit(parallel=True, cache=True)
def back(L, C, C_ptr, pat_ptr, pat, P0, c_in, x_gam, x_u1):
    """x_j = L_j⁻ᵀ (c_j − C_j x_γ) for every level, for D right-hand sides (last axis)."""
    m1, r1, D = L.shape[0], L.shape[1], c_in.shape[2]
    for j in nb.prange(m1):
        Pj = P0 + pat_ptr[j + 1] - pat_ptr[j]
        Cj = C[C_ptr[j]:C_ptr[j] + r1 * Pj].reshape((r1, Pj))
        t = np.empty(r1)
        out = np.empty(r1)
        for d in range(D):
            for a in range(r1):
                acc = c_in[j, a, d]
                for b in range(Pj):
                    acc -= Cj[a, b] * x_gam[gamma_position(b, j, P0, pat_ptr, pat), d]
                t[a] = acc
            _back_solve(L[j], t, out)
            for a in range(r1):
                x_u1[j, a, d] = out[a]


@nb.njit(parallel=True, cache=True)
def cond_var(L, C, C_ptr, pat_ptr, pat, P0, S_inv, T, out):
    """Diagonal of T (H⁻¹)_jj Tᵀ, the variances of b_j = T u_j at the mode, per level."""
    m1, r1 = L.shape[0], L.shape[1]
    for j in nb.prange(m1):
        Pj = P0 + pat_ptr[j + 1] - pat_ptr[j]
        Cj = C[C_ptr[j]:C_ptr[j] + r1 * Pj].reshape((r1, Pj))
        M = np.eye(r1)
        for a in range(r1):
            for b in range(a + 1):
                acc = 0.0
                for k in range(Pj):
                    gk = gamma_position(k, j, P0, pat_ptr, pat)
                    inner = 0.0
                    for l in range(Pj):
                        inner += S_inv[gk, gamma_position(l, j, P0, pat_ptr, pat)] * Cj[b, l]
                    acc += Cj[a, k] * inner
                M[a, b] += acc
                if a != b:
                    M[b, a] += acc
        # Linv = L_j⁻¹ (lower), V = Linvᵀ M Linv, out = diag(T V Tᵀ) = diag((T Linvᵀ) M (T Linvᵀ)ᵀ)
        Linv = np.zeros((r1, r1))
        for c in range(r1):
            for a in range(c, r1):
                acc = 1.0 if a == c else 0.0
                for k in range(c, a):
                    acc -= L[j, a, k] * Linv[k, c]
                Linv[a, c] = acc / L[j, a, a]
        for a in range(T.shape[0]):
            G = np.zeros(r1)
            for c in range(r1):
                for k in range(r1):
                    G[c] += T[a, k] * Linv[c, k]
            acc = 0.0
            for c in range(r1):
                for k in range(r1):
                    acc += G[c] * M[c, k] * G[k]
            out[j, a] = acc


@nb.njit(parallel=True, cache=True)
def draws(chunks, L, C, C_ptr, pat_ptr, pat, P0, u_hat, d_gam, Z, T, out):
    """out[d, j] = T (û_j + L_j⁻ᵀ (z_dj − C_j Δγ_d)): exact draws of b given Δγ_d = γ_d − γ̂.

    Parallel over chunks of levels, draws outermost inside a chunk, so that Z and out (draw
    major) are read and written in contiguous runs.
    """
    r1 = L.shape[1]
    for ch in nb.prange(chunks.shape[0] - 1):
        t = np.empty(r1)
        u = np.empty(r1)
        for d in range(Z.shape[0]):
            for j in range(chunks[ch], chunks[ch + 1]):
                Pj = P0 + pat_ptr[j + 1] - pat_ptr[j]
                Cj = C[C_ptr[j]:C_ptr[j] + r1 * Pj].reshape((r1, Pj))
                for a in range(r1):
                    acc = Z[d, j, a]
                    for b in range(Pj):
                        acc -= Cj[a, b] * d_gam[d, gamma_position(b, j, P0, pat_ptr, pat)]
                    t[a] = acc
                _back_solve(L[j], t, u)
                for a in range(T.shape[0]):
                    acc = 0.0
                    for c in range(r1):
                        acc += T[a, c] * (u_hat[j, c] + u[c])
                    out[d, j, a] = acc
