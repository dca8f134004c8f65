"""One random-effects term: its grouping factor, columns and relative covariance factor T_k.

For term k with m_k levels and r_k columns, the random effects of level j are
b_kj = T_k u_kj (u_kj of length r_k), so Cov(b_kj) = σ² T_k T_kᵀ (σ = 1 outside the Gaussian
family). T_k is lower triangular ("unstructured") or diagonal ("diagonal", from ``||``); its free
entries are θ entries, taken column by column from the lower triangle, as lme4 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ReTerm", "UNSTRUCTURED", "DIAGONAL", "psd_cholesky"]

UNSTRUCTURED = "unstructured"
DIAGONAL = "diagonal"


def psd_cholesky(cov: np.ndarray) -> np.ndarray:
    """Lower-triangular T with T Tᵀ = Σ and a non-negative diagonal, for a positive
    semi-definite Σ (singular allowed: then through an eigendecomposition and QR)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        root = vecs * np.sqrt(np.clip(vals, 0, None))
        _, r = np.linalg.qr(root.T)
        T = r.T
        return T * np.sign(np.where(np.diag(T) == 0, 1.0, np.diag(T)))


def tril_positions(r: int, structure: str) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of T_k's free entries in θ order: the lower triangle column by column."""
    if structure == DIAGONAL:
        idx = np.arange(r)
        return idx, idx
    rows, cols = [], []
    for c in range(r):
        for a in range(c, r):
            rows.append(a)
            cols.append(c)
    return np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)


@dataclass(frozen=True, eq=False)
class ReTerm:
    """A random-effects term of a :class:`~bayesmix.design.Design`.

    Attributes
    ----------
    group : str
        Grouping factor name as lme4 writes it (``"Subject"``, ``"cask:batch"``).
    label : str
        Unique name of the term in its design: the group, with ``.1``, ``.2``, ... appended
        when the same group has several terms (lme4's VarCorr convention). Used in result
        names (``sd_<label>``, ``b_<label>``).
    factors : tuple of str
        Data columns whose interaction defines the groups.
    levels : pandas.Index
        Level labels; level j of the term is ``levels[j]``.
    codes : ndarray of int32, shape (n,)
        Level index of each row.
    columns : tuple of str
        Names of the term's r columns (``("(Intercept)", "Days")``).
    X : ndarray, shape (n, r)
        The term's model columns: row i contributes ``X[i] @ b[codes[i]]`` to η.
    structure : {"unstructured", "diagonal"}
        Form of T_k.
    z_offset : int
        First column of this term in Z (and in b, u): level j, column c sits at
        ``z_offset + j * r + c``.
    theta_index : ndarray of int
        Positions in θ of this term's free entries of T_k, in :func:`tril_positions` order.
    models : tuple
        formulaic encodings that rebuild the columns of ``X`` on new data, one per block of
        columns (see :meth:`columns_on`).
    """

    group: str
    label: str
    factors: tuple[str, ...]
    levels: pd.Index
    codes: np.ndarray
    columns: tuple[str, ...]
    X: np.ndarray
    structure: str
    z_offset: int
    theta_index: np.ndarray
    models: tuple[Any, ...]

    @property
    def m(self) -> int:
        """Number of levels m_k."""
        return len(self.levels)

    @property
    def r(self) -> int:
        """Number of columns r_k."""
        return len(self.columns)

    @property
    def q(self) -> int:
        """Number of random effects m_k r_k."""
        return self.m * self.r

    @property
    def n_theta(self) -> int:
        """Number of free entries of T_k."""
        return len(self.theta_index)

    @property
    def correlated(self) -> bool:
        """Whether the term has correlation parameters (unstructured with r ≥ 2)."""
        return self.structure == UNSTRUCTURED and self.r > 1

    def tril(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) in T_k of this term's θ entries, in θ order."""
        return tril_positions(self.r, self.structure)

    def T(self, theta: np.ndarray) -> np.ndarray:
        """The r × r relative covariance factor T_k from the full θ vector."""
        out = np.zeros((self.r, self.r))
        rows, cols = self.tril()
        out[rows, cols] = np.asarray(theta, dtype=float)[self.theta_index]
        return out

    def theta_from_T(self, T: np.ndarray) -> np.ndarray:
        """This term's θ entries (in θ order) from a lower-triangular T_k."""
        rows, cols = self.tril()
        return np.asarray(T, dtype=float)[rows, cols]

    def columns_on(self, data: pd.DataFrame, context=None) -> np.ndarray:
        """The term's columns evaluated on other rows (same encoding as ``X``)."""
        blocks = [model.on(data, context) for model in self.models]
        return np.column_stack(blocks) if blocks else np.empty((len(data), 0))

    def __repr__(self) -> str:
        return (
            f"ReTerm({self.label!r}: {self.m} levels × {self.r} columns "
            f"{list(self.columns)}, {self.structure})"
        )
