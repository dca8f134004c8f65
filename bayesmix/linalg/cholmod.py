"""CHOLMOD (through scikit-sparse) factorization of A = ΛᵀZᵀWZΛ + I for general patterns.

The symbolic analysis (ordering, elimination tree) runs once per design on the pattern of
(ZΛ)ᵀ; every update is a numeric refactorization ``cholesky_AAt_inplace`` of (ZΛ)ᵀW^½ with
β = 1, so ΛᵀZᵀWZΛ is never formed in Python. scikit-sparse keeps explicit zeros, so the
pattern analysed is the design's full pattern whatever θ is (tested).

The factorization is simplicial (LDLᵀ): CHOLMOD's supernodal factorization, as built by
Debian's SuiteSparse 5.12 against the system BLAS, corrupts memory here (segfaults within a few
hundred factorizations of a 1,500-row crossed pattern, with every ordering; the simplicial
code runs the same loop cleanly). Patterns with a large dense trailing block go to the blocked
factorization instead (:mod:`bayesmix.linalg.factor`).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sksparse import cholmod

from ._selinv_kernels import lookup_many, row_lookup, takahashi
from .structure import ZStructure

__all__ = ["CholmodFactor", "cholmod_factor", "ORDERINGS"]

ORDERINGS = ("natural", "amd", "colamd", "metis", "nesdis")


def _zt(structure: ZStructure, values: np.ndarray) -> sp.csc_matrix:
    """(ZΛ)ᵀ as CSC q × n: the CSR arrays of ZΛ read as CSC of its transpose (no copy)."""
    return sp.csc_matrix((values, structure.indices, structure.indptr),
                         shape=(structure.q, structure.n))


class CholmodFactor:
    """Numeric CHOLMOD factor L Lᵀ = P A Pᵀ on a fixed symbolic analysis.

    Create it with :func:`cholmod_factor` (or :func:`bayesmix.linalg.analyze`), which runs the
    analysis; :meth:`update` refactors in place.
    """

    method = "cholmod"

    def __init__(self, structure: ZStructure, factor, ordering: str):
        self.structure = structure
        self.ordering = ordering
        self._factor = factor
        self._sqrt_d = None
        self._selinv = None  # (L, entries of A⁻¹ on its pattern, P⁻¹), cached per update

    @property
    def q(self) -> int:
        return self.structure.q

    def symbolic_copy(self):
        """A copy of the CHOLMOD factor object as analysed (before any numeric update)."""
        return self._factor.copy()

    def update(self, zl_data: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Numeric factorization of ΛᵀZᵀWZΛ + I from the values of ZΛ (CSR data order)."""
        values = np.asarray(zl_data, dtype=float)
        if weights is not None:
            values = values * np.repeat(np.sqrt(weights), self.structure.width)
        with warnings.catch_warnings():
            warnings.simplefilter("error", cholmod.CholmodWarning)
            self._factor.cholesky_AAt_inplace(_zt(self.structure, values), beta=1.0)
        self._sqrt_d = np.sqrt(self._factor.D())
        self._selinv = None

    def logdet(self) -> float:
        """log|A| = log|L|²."""
        return float(self._factor.logdet())

    def solve_L(self, b: np.ndarray) -> np.ndarray:
        """L⁻¹ P b for ``b`` of shape (q,) or (q, k)."""
        f = self._factor
        x = f.solve_L(f.apply_P(np.asarray(b, dtype=float)), use_LDLt_decomposition=True)
        return x / (self._sqrt_d if x.ndim == 1 else self._sqrt_d[:, None])

    def solve_Lt(self, y: np.ndarray) -> np.ndarray:
        """Pᵀ L⁻ᵀ y; with standard normal ``y`` this draws from N(0, A⁻¹)."""
        f = self._factor
        y = np.asarray(y, dtype=float)
        y = y / (self._sqrt_d if y.ndim == 1 else self._sqrt_d[:, None])
        return f.apply_Pt(f.solve_Lt(y, use_LDLt_decomposition=True))

    def solve(self, b: np.ndarray) -> np.ndarray:
        """A⁻¹ b."""
        return self._factor.solve_A(np.asarray(b, dtype=float))

    def _selected_inverse(self):
        if self._selinv is None:
            L = self._factor.copy().L().tocsc()
            L.sort_indices()
            self._selinv = (L, takahashi(L.indptr, L.indices, L.data),
                            np.argsort(self._factor.P()))
        return self._selinv

    def row_inverse(self) -> np.ndarray:
        """A⁻¹ restricted to each data row's columns: shape (n, width, width)."""
        L, Zinv, pinv = self._selected_inverse()
        st = self.structure
        out = np.empty((st.n, st.width, st.width))
        row_lookup(L.indptr, L.indices, Zinv, pinv, st.indices, st.width, out)
        return out

    def inverse_diag_blocks(self, blocks) -> list[np.ndarray]:
        """Diagonal r × r blocks of A⁻¹ for each (offset, m, r), by selected inversion.

        Returns one array of shape (m, r, r) per block.
        """
        L, Zinv, pinv = self._selected_inverse()
        out = []
        for offset, m, r in blocks:
            res = np.empty((m, r, r))
            for a in range(r):
                for c in range(a + 1):
                    pa = pinv[offset + np.arange(m) * r + a]
                    pc = pinv[offset + np.arange(m) * r + c]
                    vals = lookup_many(L.indptr, L.indices, Zinv, np.maximum(pa, pc),
                                       np.minimum(pa, pc))
                    res[:, a, c] = vals
                    res[:, c, a] = vals
            out.append(res)
        return out


def cholmod_factor(structure: ZStructure, ordering: str = "natural") -> CholmodFactor:
    """Symbolic analysis of ΛᵀZᵀWZΛ + I on the design's pattern (simplicial LDLᵀ).

    Parameters
    ----------
    structure : ZStructure
    ordering : str
        One of :data:`ORDERINGS` (CHOLMOD's names). ``"natural"`` keeps lme4's term order
        (most levels first), whose fill is confined to the trailing terms.
    """
    if ordering not in ORDERINGS:
        raise ValueError(f"unknown ordering {ordering!r}; use one of {', '.join(ORDERINGS)}")
    pattern = _zt(structure, np.ones(len(structure.indices)))
    factor = cholmod.analyze_AAt(pattern, mode="simplicial", ordering_method=ordering)
    return CholmodFactor(structure, factor, ordering)
