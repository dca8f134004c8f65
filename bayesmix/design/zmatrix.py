"""The random-effects model matrix Z and the product ZΛ_θ, built from integer group codes.

Row i of Z holds, for every term k, the r_k values ``X_k[i]`` in the columns of level
``codes_k[i]``. Z is built directly in CSR form (each row has Σ r_k entries), so its size is
O(n Σ r_k) whatever the number of levels. Explicit zeros are kept: the pattern of Z (and of ZΛ)
is then fixed by the design alone, which lets a sparse Cholesky be analysed once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .reterm import ReTerm

__all__ = ["z_pattern", "z_matrix", "z_lambda"]


def _index_dtype(n: int, nnz: int, q: int):
    return np.int32 if max(nnz, q, n) < np.iinfo(np.int32).max else np.int64


def z_pattern(terms: Sequence[ReTerm], n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``indptr`` and ``indices`` of Z (and of ZΛ, which has the same pattern)."""
    width = sum(t.r for t in terms)
    q = sum(t.q for t in terms)
    dtype = _index_dtype(n, n * width, q)
    indices = np.empty((n, width), dtype=dtype)
    at = 0
    for t in terms:
        first = t.z_offset + t.codes.astype(dtype) * t.r
        for c in range(t.r):
            indices[:, at + c] = first + c
        at += t.r
    if width == 0:
        return np.zeros(n + 1, dtype=dtype), indices.reshape(-1)
    indptr = np.arange(0, n * width + 1, width, dtype=dtype)
    return indptr, indices.reshape(-1)


def _assemble(values: Sequence[np.ndarray], n: int) -> np.ndarray:
    if not values:
        return np.zeros(0)
    if len(values) == 1:
        return np.ascontiguousarray(values[0], dtype=float).reshape(-1)
    return np.hstack(values).reshape(-1)


def z_matrix(terms: Sequence[ReTerm], n: int, pattern=None) -> sp.csr_matrix:
    """Z (n × q, CSR) from the terms' codes and columns."""
    indptr, indices = pattern if pattern is not None else z_pattern(terms, n)
    q = sum(t.q for t in terms)
    data = _assemble([t.X for t in terms], n)
    return sp.csr_matrix((data, indices, indptr), shape=(n, q))


def z_lambda(
    terms: Sequence[ReTerm], n: int, theta: np.ndarray, pattern
) -> sp.csr_matrix:
    """ZΛ_θ (n × q, CSR, same pattern as Z).

    Because Λ_θ is block diagonal with blocks T_k, row i of ZΛ_θ in term k's level block is
    ``X_k[i] @ T_k``: one small dense product per term, no sparse-sparse product.
    """
    indptr, indices = pattern
    q = sum(t.q for t in terms)
    data = _assemble([t.X @ t.T(theta) for t in terms], n)
    return sp.csr_matrix((data, indices, indptr), shape=(n, q))
