"""numba kernels of the blocked Cholesky factorization (see :mod:`bayesmix.linalg.blocked`).

Notation: the first random term has m₁ levels with r₁ columns each (the block-diagonal part D),
the remaining q₂ columns form the dense trailing block C, and B couples them. For level j of the
first term, B's nonzero columns are ``bcols[bptr[j]:bptr[j+1]]`` and ``bval[pos, a]`` is the entry
of column ``bcols[pos]`` in row a of the level's block. Each data row i holds ``width`` entries
of ZΛ: the first r₁ belong to the first term, the others sit in columns ``rest[i, e]`` of the
trailing block, and ``bpos[i, e]`` is where they land in B.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "accumulate",
    "factor_levels",
    "solve_half",
    "solve_half_t",
    "symmetrize_lower",
    "inverse_first",
    "first_blocks",
    "row_inverse",
]


@njit(cache=True, nogil=True)
def accumulate(data, width, r1, codes1, rest, bpos, w, D, bval, C):
    """D, B and C of ΛᵀZᵀWZΛ from the rows of ZΛ (lower triangles of D and C only).

    The arrays are zeroed here, so the kernel computes the full crossproduct in one pass.
    """
    n = codes1.shape[0]
    w2 = width - r1
    D[:] = 0.0
    bval[:] = 0.0
    C[:, :] = 0.0
    for i in range(n):
        wi = 1.0 if w.shape[0] == 0 else w[i]
        base = i * width
        j = codes1[i]
        for a in range(r1):
            va = data[base + a] * wi
            for b in range(a + 1):
                D[j, a, b] += va * data[base + b]
            for e in range(w2):
                bval[bpos[i, e], a] += va * data[base + r1 + e]
        for e in range(w2):
            ve = data[base + r1 + e] * wi
            ce = rest[i, e]
            for f in range(e + 1):
                cf = rest[i, f]
                v = ve * data[base + r1 + f]
                if ce >= cf:
                    C[ce, cf] += v
                else:
                    C[cf, ce] += v


@njit(cache=True, nogil=True)
def factor_levels(D, bptr, bcols, bval, Ld, G, S):
    """Cholesky factors of the diagonal blocks D_j + I, G = L_D⁻¹B, and S −= GᵀG.

    ``S`` (q₂ × q₂, lower triangle used) must hold C + I on entry; on exit it holds the Schur
    complement C + I − Bᵀ(D + I)⁻¹B. Returns log|D + I|.
    """
    m1, r1, _ = D.shape
    logdet = 0.0
    for j in range(m1):
        # Cholesky of the r₁ × r₁ block D_j + I (lower triangle of D holds the values).
        for c in range(r1):
            s = D[j, c, c] + 1.0
            for k in range(c):
                s -= Ld[j, c, k] * Ld[j, c, k]
            d = np.sqrt(s)
            Ld[j, c, c] = d
            logdet += 2.0 * np.log(d)
            for a in range(c + 1, r1):
                t = D[j, a, c]
                for k in range(c):
                    t -= Ld[j, a, k] * Ld[j, c, k]
                Ld[j, a, c] = t / d
            for a in range(c):
                Ld[j, a, c] = 0.0
        # G rows of this level: solve L_j g = b for every coupled column.
        start, stop = bptr[j], bptr[j + 1]
        for pos in range(start, stop):
            for a in range(r1):
                t = bval[pos, a]
                for k in range(a):
                    t -= Ld[j, a, k] * G[pos, k]
                G[pos, a] = t / Ld[j, a, a]
        # Rank-r₁ update of the trailing block: S −= G_jᵀ G_j on the coupled columns.
        for p1 in range(start, stop):
            c1 = bcols[p1]
            for p2 in range(start, p1 + 1):
                c2 = bcols[p2]
                t = 0.0
                for a in range(r1):
                    t += G[p1, a] * G[p2, a]
                S[c1, c2] -= t
    return logdet


@njit(cache=True, nogil=True)
def solve_half(Ld, bptr, bcols, G, b1, b2):
    """First stage of L⁻¹b: b1 ← L_D⁻¹ b1 per level, b2 ← b2 − Gᵀ b1 (in place).

    ``b1`` has shape (m₁, r₁, k) and ``b2`` (q₂, k) for k right-hand sides; the innermost
    loops run over them.
    """
    m1, r1, _ = Ld.shape
    k = b1.shape[2]
    for j in range(m1):
        for a in range(r1):
            out = b1[j, a]
            for c in range(a):
                lac = Ld[j, a, c]
                other = b1[j, c]
                for col in range(k):
                    out[col] -= lac * other[col]
            d = Ld[j, a, a]
            for col in range(k):
                out[col] /= d
        for pos in range(bptr[j], bptr[j + 1]):
            row = b2[bcols[pos]]
            for a in range(r1):
                g = G[pos, a]
                src = b1[j, a]
                for col in range(k):
                    row[col] -= g * src[col]


@njit(cache=True, nogil=True)
def solve_half_t(Ld, bptr, bcols, G, y1, x2):
    """Last stage of L⁻ᵀy: y1 ← L_D⁻ᵀ (y1 − G x2) per level (in place); the innermost
    loops run over the k right-hand sides (contiguous rows of y1 and x2)."""
    m1, r1, _ = Ld.shape
    k = y1.shape[2]
    for j in range(m1):
        for pos in range(bptr[j], bptr[j + 1]):
            row = x2[bcols[pos]]
            for a in range(r1):
                g = G[pos, a]
                out = y1[j, a]
                for col in range(k):
                    out[col] -= g * row[col]
        for a in range(r1 - 1, -1, -1):
            out = y1[j, a]
            for c in range(a + 1, r1):
                lca = Ld[j, c, a]
                other = y1[j, c]
                for col in range(k):
                    out[col] -= lca * other[col]
            d = Ld[j, a, a]
            for col in range(k):
                out[col] /= d


@njit(cache=True, nogil=True)
def symmetrize_lower(S):
    """Copy the lower triangle of a square array onto its upper triangle (in place)."""
    k = S.shape[0]
    for c in range(k):
        for a in range(c + 1, k):
            S[c, a] = S[a, c]


@njit(cache=True, nogil=True)
def _sandwich(Ld, j, M, T, first):
    """first[j] = L_j⁻ᵀ M L_j⁻¹ by two triangular solves (T: r₁ × r₁ scratch)."""
    r1 = M.shape[0]
    for b in range(r1):
        for a in range(r1 - 1, -1, -1):
            s = M[a, b]
            for c in range(a + 1, r1):
                s -= Ld[j, c, a] * T[c, b]
            T[a, b] = s / Ld[j, a, a]
    for a in range(r1):
        for b in range(r1 - 1, -1, -1):
            s = T[a, b]
            for c in range(b + 1, r1):
                s -= Ld[j, c, b] * first[j, a, c]
            first[j, a, b] = s / Ld[j, b, b]


@njit(cache=True, nogil=True)
def inverse_first(Ld, bptr, bcols, G, Sinv, first, cross):
    """Blocks of A⁻¹ involving the first term, from S⁻¹ (full, symmetric).

    With Y_j = G_jᵀ S⁻¹[bcols_j, bcols_j] (r₁ × k_j, one pass over the level's B pattern):
    the cross entries (A⁻¹)_{(j,·),c} = −L_j⁻ᵀ Y_j[:, c] and the diagonal block
    (A⁻¹)_jj = L_j⁻ᵀ (I + Y_j G_j) L_j⁻¹. ``cross`` may have zero rows (not wanted).
    """
    m1, r1, _ = Ld.shape
    want_cross = cross.shape[0] > 0
    M = np.empty((r1, r1))
    X = np.empty((r1, r1))
    x = np.empty(r1)
    kmax = 0
    for j in range(m1):
        kmax = max(kmax, bptr[j + 1] - bptr[j])
    Y = np.empty((kmax, r1))
    for j in range(m1):
        for a in range(r1):
            for b in range(r1):
                M[a, b] = 1.0 if a == b else 0.0
        start, stop = bptr[j], bptr[j + 1]
        # Y[p0] = Σ_p G[p] S⁻¹[bcols[p], bcols[p0]], walking each row of S⁻¹ left to right.
        Y[: stop - start, :] = 0.0
        for p in range(start, stop):
            row = bcols[p]
            for p0 in range(start, stop):
                v = Sinv[row, bcols[p0]]
                for a in range(r1):
                    Y[p0 - start, a] += G[p, a] * v
        for p0 in range(start, stop):
            t = Y[p0 - start]
            for a in range(r1):
                for b in range(r1):
                    M[a, b] += t[a] * G[p0, b]
            if want_cross:
                for a in range(r1 - 1, -1, -1):
                    s = t[a]
                    for k in range(a + 1, r1):
                        s -= Ld[j, k, a] * x[k]
                    x[a] = s / Ld[j, a, a]
                for a in range(r1):
                    cross[p0, a] = -x[a]
        _sandwich(Ld, j, M, X, first)


@njit(cache=True, nogil=True)
def row_inverse(codes1, rest, bpos, first, cross, Sinv, out):
    """The width × width blocks of A⁻¹ on the columns of every data row, assembled from
    :func:`inverse_first`'s blocks and S⁻¹."""
    n, w2 = rest.shape
    r1 = first.shape[1]
    for i in range(n):
        j = codes1[i]
        for a in range(r1):
            for b in range(r1):
                out[i, a, b] = first[j, a, b]
        for e in range(w2):
            pos = bpos[i, e]
            for a in range(r1):
                out[i, a, r1 + e] = cross[pos, a]
                out[i, r1 + e, a] = cross[pos, a]
            for f in range(w2):
                out[i, r1 + e, r1 + f] = Sinv[rest[i, e], rest[i, f]]


@njit(cache=True, nogil=True)
def first_blocks(Ld, bptr, bcols, G, Sinv, first):
    """Diagonal blocks (A⁻¹)_jj = L_j⁻ᵀ (I + G_jᵀ S⁻¹ G_j) L_j⁻¹ of the first term.

    What :func:`inverse_first` gives without the cross blocks, reading each pair of the
    level's coupled columns once (S⁻¹ symmetric, rows walked left to right): the random reads
    of S⁻¹ dominate the cost, and this halves them.
    """
    m1, r1, _ = Ld.shape
    M = np.empty((r1, r1))
    T = np.empty((r1, r1))
    for j in range(m1):
        for a in range(r1):
            for b in range(r1):
                M[a, b] = 1.0 if a == b else 0.0
        start, stop = bptr[j], bptr[j + 1]
        for p0 in range(start, stop):
            row = bcols[p0]
            for p in range(p0, stop):
                v = Sinv[row, bcols[p]]
                if p == p0:
                    for a in range(r1):
                        for b in range(r1):
                            M[a, b] += v * G[p0, a] * G[p0, b]
                else:
                    for a in range(r1):
                        for b in range(r1):
                            M[a, b] += v * (G[p0, a] * G[p, b] + G[p, a] * G[p0, b])
        _sandwich(Ld, j, M, T, first)
