"""The fixed sparsity structure of ZΛ_θ that every factorization is analysed on.

Z (and ZΛ_θ, which has the same pattern) is CSR with the same number of stored entries in every
row (Σ_k r_k: one level per term), explicit zeros kept. Its columns are laid out term after
term, level-major inside a term (:mod:`bayesmix.design.zmatrix`). Only this pattern and the
term blocks are needed to analyse a factorization; the values come with every update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ZStructure", "z_structure"]


@dataclass(frozen=True, eq=False)
class ZStructure:
    """Pattern of ZΛ_θ and the layout of its column blocks.

    Attributes
    ----------
    indptr, indices : ndarray
        CSR structure of Z (n × q), ``width`` entries per row.
    n, q, width : int
    blocks : tuple of (offset, m, r)
        One per random term, in column order: first column, number of levels, columns per
        level.
    """

    indptr: np.ndarray
    indices: np.ndarray
    n: int
    q: int
    width: int
    blocks: tuple[tuple[int, int, int], ...]

    @property
    def q_rest(self) -> int:
        """Number of columns after the first term (the blocked factorization's q₂)."""
        if not self.blocks:
            return 0
        return self.q - self.blocks[0][1] * self.blocks[0][2]


def z_structure(design) -> ZStructure:
    """The :class:`ZStructure` of a :class:`~bayesmix.design.Design` (or anything with ``Z``
    (CSR) and ``terms`` carrying ``z_offset``, ``m``, ``r``)."""
    Z = design.Z
    n, q = Z.shape
    counts = np.diff(Z.indptr)
    width = int(counts[0]) if n else 0
    if n and not np.all(counts == width):
        raise ValueError("every row of Z must hold the same number of stored entries")
    blocks = tuple((int(t.z_offset), int(t.m), int(t.r)) for t in design.terms)
    return ZStructure(Z.indptr, Z.indices, n, q, width, blocks)
