"""Blocked Cholesky factorization for one large grouping factor plus a small remainder.

With the random terms in lme4's order (most levels first), A = ΛᵀZᵀWZΛ + I splits as

    A = [[D + I, B], [Bᵀ, C + I]],

where D is block diagonal (one r₁ × r₁ block per level of the first term: a row of the data
belongs to exactly one level) and C covers the q₂ columns of all other terms. The factor is

    L = [[L_D, 0], [Gᵀ, L_S]],   L_D L_Dᵀ = D + I,   G = L_D⁻¹B,   L_S L_Sᵀ = S = C + I − GᵀG,

with the level blocks and the rank-r₁ updates of S in numba and S factored densely by LAPACK
(single-threaded: see :mod:`bayesmix.linalg.threads`).
Nothing larger than q₂ × q₂ is dense, so memory is O(n + m₁ + nnz(B) + q₂²); with a single
random term (q₂ = 0) the factorization is a set of independent r₁ × r₁ Choleskys. This is the
structure MixedModels.jl exploits; measured against CHOLMOD in ``benchmarks/bench_cholesky.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from . import _blocked_kernels as kern
from .structure import ZStructure
from .threads import single_threaded_blas

__all__ = ["BlockedPattern", "BlockedFactor", "blocked_pattern"]


@dataclass(frozen=True, eq=False)
class BlockedPattern:
    """The symbolic part of the blocked factorization, computed once per design.

    Attributes
    ----------
    structure : ZStructure
    r1, m1, q1, q2 : int
        Columns and levels of the first term, its q₁ = m₁r₁ effects, and the q₂ others.
    codes1 : ndarray (n,)
        Level of the first term in each row.
    rest : ndarray (n, width − r₁)
        Trailing-block column (0 … q₂−1) of the other entries of each row.
    bptr, bcols : ndarray
        Nonzero columns of B per level of the first term (CSR-like, columns sorted).
    bpos : ndarray (n, width − r₁)
        Position in ``bcols`` of each of those entries.
    """

    structure: ZStructure
    r1: int
    m1: int
    q1: int
    q2: int
    codes1: np.ndarray
    rest: np.ndarray
    bptr: np.ndarray
    bcols: np.ndarray
    bpos: np.ndarray

    @property
    def nnz_B(self) -> int:
        return len(self.bcols)


def blocked_pattern(structure: ZStructure) -> BlockedPattern:
    """Analyse the pattern for the blocked factorization (once per design)."""
    offset, m1, r1 = structure.blocks[0]
    if offset != 0:
        raise ValueError("the first random term must start at column 0")
    n, width, q = structure.n, structure.width, structure.q
    q1 = m1 * r1
    q2 = q - q1
    cols = structure.indices.reshape(n, width)
    codes1 = (cols[:, 0] // r1).astype(np.int64)
    rest = (cols[:, r1:] - q1).astype(np.int64)
    if rest.size:
        keys = (codes1[:, None] * q2 + rest).reshape(-1)
        uniq, inverse = np.unique(keys, return_inverse=True)
        bpos = inverse.reshape(n, width - r1).astype(np.int64)
        levels, bcols = np.divmod(uniq, q2)
        bptr = np.zeros(m1 + 1, dtype=np.int64)
        np.cumsum(np.bincount(levels, minlength=m1), out=bptr[1:])
    else:
        bpos = np.zeros((n, 0), dtype=np.int64)
        bcols = np.zeros(0, dtype=np.int64)
        bptr = np.zeros(m1 + 1, dtype=np.int64)
    return BlockedPattern(structure, r1, m1, q1, q2, codes1, rest, bptr,
                          bcols.astype(np.int64), bpos)


class BlockedFactor:
    """Numeric blocked factor of A = ΛᵀZᵀWZΛ + I on a fixed :class:`BlockedPattern`.

    The object holds the solver state (the level factors L_D, G, and L_S) and is refreshed in
    place by :meth:`update`; create it with :func:`bayesmix.linalg.analyze`. The permutation P
    of the :class:`~bayesmix.linalg.Factor` protocol is the identity.
    """

    method = "blocked"

    def __init__(self, pattern: BlockedPattern):
        self.pattern = pattern
        p = pattern
        self._D = np.zeros((p.m1, p.r1, p.r1))
        self._Ld = np.zeros((p.m1, p.r1, p.r1))
        self._bval = np.zeros((p.nnz_B, p.r1))
        self._G = np.zeros((p.nnz_B, p.r1))
        self._C = np.zeros((p.q2, p.q2), order="F")
        self._S = np.zeros((p.q2, p.q2), order="F")
        self._logdet = np.nan
        self._no_weights = np.zeros(0)
        # S⁻¹ and the diagonal blocks of A⁻¹ at the current factor: the gradient and the
        # conditional SDs both read them, so they are computed once per update.
        self._Sinv: np.ndarray | None = None
        self._blocks_cache: dict = {}

    @property
    def q(self) -> int:
        return self.pattern.structure.q

    @property
    def ordering(self) -> str:
        return "natural (blocked)"

    def update(self, zl_data: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Numeric factorization of ΛᵀZᵀWZΛ + I from the values of ZΛ (CSR data order)."""
        p = self.pattern
        self._Sinv, self._blocks_cache = None, {}
        w = self._no_weights if weights is None else np.asarray(weights, dtype=float)
        kern.accumulate(np.asarray(zl_data, dtype=float), p.structure.width, p.r1, p.codes1,
                        p.rest, p.bpos, w, self._D, self._bval, self._C)
        S = self._S
        if p.q2:
            np.copyto(S, self._C)
            S[np.diag_indices(p.q2)] += 1.0
        logdet = kern.factor_levels(self._D, p.bptr, p.bcols, self._bval, self._Ld,
                                    self._G, S)
        if p.q2:
            with single_threaded_blas():
                _, info = lapack.dpotrf(S, lower=1, overwrite_a=1, clean=0)
            if info != 0:
                raise np.linalg.LinAlgError(f"Schur complement not positive definite ({info})")
            logdet += 2.0 * np.sum(np.log(np.diag(S)))
        self._logdet = float(logdet)

    def logdet(self) -> float:
        """log|A| = log|L|²."""
        return self._logdet

    def _split(self, b: np.ndarray):
        p = self.pattern
        k = b.shape[1]
        # Copies: the kernels work in place and must not touch the caller's array. Both
        # halves row-major: the kernels read a row of the trailing block for all k
        # right-hand sides at once (column-major made every read a cache miss).
        b1 = np.array(b[: p.q1], dtype=float, order="C").reshape(p.m1, p.r1, k)
        b2 = np.array(b[p.q1:], dtype=float, order="C")
        return b1, b2

    def solve_L(self, b: np.ndarray) -> np.ndarray:
        """L⁻¹ P b (P = I here); ``b`` of shape (q,) or (q, k)."""
        b = np.asarray(b, dtype=float)
        vec = b.ndim == 1
        b2d = b[:, None] if vec else b
        b1, b2 = self._split(b2d)
        p = self.pattern
        kern.solve_half(self._Ld, p.bptr, p.bcols, self._G, b1, b2)
        if p.q2:
            with single_threaded_blas():
                b2, _ = lapack.dtrtrs(self._S, np.asfortranarray(b2), lower=1, trans=0,
                                      overwrite_b=1)
        out = np.concatenate([b1.reshape(p.q1, -1), b2])
        return out[:, 0] if vec else out

    def solve_Lt(self, y: np.ndarray) -> np.ndarray:
        """Pᵀ L⁻ᵀ y; with standard normal ``y`` this draws from N(0, A⁻¹)."""
        y = np.asarray(y, dtype=float)
        vec = y.ndim == 1
        y2d = y[:, None] if vec else y
        y1, y2 = self._split(y2d)
        p = self.pattern
        if p.q2:
            with single_threaded_blas():
                y2, _ = lapack.dtrtrs(self._S, np.asfortranarray(y2), lower=1, trans=1,
                                      overwrite_b=1)
        kern.solve_half_t(self._Ld, p.bptr, p.bcols, self._G, y1, np.ascontiguousarray(y2))
        out = np.concatenate([y1.reshape(p.q1, -1), y2])
        return out[:, 0] if vec else out

    def solve(self, b: np.ndarray) -> np.ndarray:
        """A⁻¹ b."""
        return self.solve_Lt(self.solve_L(b))

    def _s_inverse(self) -> np.ndarray:
        """S⁻¹ (full, symmetric) from L_S by LAPACK's dpotri (cached until the next update)."""
        p = self.pattern
        if not p.q2:
            return np.zeros((0, 0))
        if self._Sinv is None:
            with single_threaded_blas():
                Sinv, info = lapack.dpotri(self._S, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"dpotri failed ({info})")
            Sinv = Sinv.T  # C order view: the lower triangle becomes the upper
            kern.symmetrize_lower(Sinv.T)
            self._Sinv = Sinv
        return self._Sinv

    def row_inverse(self) -> np.ndarray:
        """A⁻¹ restricted to each data row's columns: shape (n, width, width).

        Entry [i, e, f] is (A⁻¹)[c_e, c_f] for the columns c_e of row i's stored entries (in
        CSR order), what the gradients of the Laplace objectives need.
        """
        p = self.pattern
        Sinv = self._s_inverse()
        first = np.empty((p.m1, p.r1, p.r1))
        cross = np.empty((p.nnz_B, p.r1))
        kern.inverse_first(self._Ld, p.bptr, p.bcols, self._G, Sinv, first, cross)
        out = np.empty((p.structure.n, p.structure.width, p.structure.width))
        kern.row_inverse(p.codes1, p.rest, p.bpos, first, cross, Sinv, out)
        return out

    def inverse_diag_blocks(self, blocks) -> list[np.ndarray]:
        """Diagonal r × r blocks of A⁻¹ for each (offset, m, r) in ``blocks``.

        Returns one array of shape (m, r, r) per block (cached until the next update: do not
        modify them).
        """
        key = tuple(tuple(int(v) for v in b) for b in blocks)
        if key not in self._blocks_cache:
            self._blocks_cache[key] = self._inverse_diag_blocks(key)
        return self._blocks_cache[key]

    def _inverse_diag_blocks(self, blocks) -> list[np.ndarray]:
        p = self.pattern
        Sinv = self._s_inverse()
        out = []
        for offset, m, r in blocks:
            if offset == 0 and m == p.m1 and r == p.r1:
                res = np.empty((m, r, r))
                kern.first_blocks(self._Ld, p.bptr, p.bcols, self._G, Sinv, res)
            elif offset >= p.q1:
                idx = offset - p.q1 + np.arange(m)[:, None] * r + np.arange(r)
                res = Sinv[idx[:, :, None], idx[:, None, :]]
            else:
                raise ValueError(f"block at column {offset} straddles the blocked partition")
            out.append(res)
        return out
