"""numba kernel of the selected inverse (Takahashi equations) on a sparse Cholesky factor.

For L Lᵀ = M with L lower triangular (CSC, diagonal first in each column, rows sorted), the
entries of Z = M⁻¹ on the pattern of L satisfy, column by column from the last,

    Z_ij = −(1/L_jj) Σ_{k>j} L_kj Z_ik          (i > j in the pattern of column j)
    Z_jj = (1/L_jj) (1/L_jj − Σ_{k>j} L_kj Z_kj),

and every Z_ik needed lies in the pattern of L (the filled graph is chordal). The cost is
Σ_j nnz(L_{:,j})² binary searches: the inverse's diagonal blocks without forming M⁻¹.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["takahashi", "lookup", "lookup_many", "row_lookup"]


@njit(cache=True, nogil=True)
def lookup(indptr, indices, values, row, col):
    """``values`` at (row, col) of a lower-triangular CSC pattern (row ≥ col); NaN if absent."""
    lo = indptr[col]
    hi = indptr[col + 1] - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        v = indices[mid]
        if v == row:
            return values[mid]
        if v < row:
            lo = mid + 1
        else:
            hi = mid - 1
    return np.nan


@njit(cache=True, nogil=True)
def takahashi(indptr, indices, data):
    """Entries of (L Lᵀ)⁻¹ on the pattern of L (same CSC layout as ``data``)."""
    q = indptr.shape[0] - 1
    Z = np.zeros_like(data)
    for j in range(q - 1, -1, -1):
        start = indptr[j]
        stop = indptr[j + 1]
        ljj = data[start]
        for ii in range(start + 1, stop):
            i = indices[ii]
            s = 0.0
            for kk in range(start + 1, stop):
                k = indices[kk]
                if k >= i:
                    z = lookup(indptr, indices, Z, k, i)
                else:
                    z = lookup(indptr, indices, Z, i, k)
                s += data[kk] * z
            Z[ii] = -s / ljj
        s = 0.0
        for kk in range(start + 1, stop):
            s += data[kk] * Z[kk]
        Z[start] = (1.0 / ljj - s) / ljj
    return Z


@njit(cache=True, nogil=True)
def lookup_many(indptr, indices, values, rows, cols):
    """:func:`lookup` for arrays of (row, col) pairs."""
    out = np.empty(rows.shape[0])
    for t in range(rows.shape[0]):
        out[t] = lookup(indptr, indices, values, rows[t], cols[t])
    return out


@njit(cache=True, nogil=True)
def row_lookup(indptr, indices, values, pinv, zcols, width, out):
    """out[i, e, f] = (M⁻¹)[c_e, c_f] for the columns c of each row (``zcols`` (n·width)),
    with ``pinv`` mapping original columns to the factor's order."""
    n = out.shape[0]
    for i in range(n):
        for e in range(width):
            pe = pinv[zcols[i * width + e]]
            for f in range(e + 1):
                pf = pinv[zcols[i * width + f]]
                if pe >= pf:
                    v = lookup(indptr, indices, values, pe, pf)
                else:
                    v = lookup(indptr, indices, values, pf, pe)
                out[i, e, f] = v
                out[i, f, e] = v
