"""Λ_θ, the q × q relative covariance factor, as a fixed sparse pattern plus an index map.

Λ_θ = blockdiag over terms of (I_{m_k} ⊗ T_k). Its pattern never changes; only its values do,
and each value is one θ entry: ``Lambda.data = theta[lind]`` (lme4's ``Lind``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .reterm import ReTerm

__all__ = ["LambdaTemplate", "lambda_template"]


@dataclass(frozen=True, eq=False)
class LambdaTemplate:
    """Pattern of Λ_θ in CSC form and the map from θ to its nonzeros.

    Attributes
    ----------
    indptr, indices : ndarray
        CSC structure of Λ_θ (q × q, lower triangular blocks).
    lind : ndarray of int
        ``Lambda.data[i] = theta[lind[i]]``.
    q : int
    """

    indptr: np.ndarray
    indices: np.ndarray
    lind: np.ndarray
    q: int

    def __call__(self, theta: np.ndarray) -> sp.csc_matrix:
        """Λ_θ as a CSC matrix."""
        data = np.asarray(theta, dtype=float)[self.lind]
        return sp.csc_matrix((data, self.indices, self.indptr), shape=(self.q, self.q))


def lambda_template(terms: Sequence[ReTerm], q: int) -> LambdaTemplate:
    """Build the Λ_θ template of a design's terms."""
    rows, cols, lind = [], [], []
    for t in terms:
        a, c = t.tril()
        base = t.z_offset + np.arange(t.m)[:, None] * t.r
        rows.append((base + a).reshape(-1))
        cols.append((base + c).reshape(-1))
        lind.append(np.broadcast_to(t.theta_index, (t.m, len(a))).reshape(-1))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return LambdaTemplate(np.zeros(q + 1, dtype=np.int64), empty, empty, q)
    rows, cols, lind = (np.concatenate(v) for v in (rows, cols, lind))
    order = np.lexsort((rows, cols))
    rows, cols, lind = rows[order], cols[order], lind[order]
    counts = np.bincount(cols, minlength=q)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return LambdaTemplate(indptr, rows.astype(np.int64), lind.astype(np.int64), q)
