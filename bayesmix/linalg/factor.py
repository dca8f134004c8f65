"""Choosing and analysing the sparse Cholesky factorization of A = ΛᵀZᵀWZΛ + I.

Two implementations share the :class:`Factor` protocol:

- :class:`~bayesmix.linalg.blocked.BlockedFactor` when the columns after the first (largest)
  random term are few (q₂ ≤ ``dense_max``): one grouping factor, nested factors, or one large
  factor crossed with smaller ones (InstEval). Independent r₁ × r₁ level blocks, rank updates
  of a dense q₂ × q₂ Schur complement in numba, LAPACK for the rest.
- :class:`~bayesmix.linalg.cholmod.CholmodFactor` (CHOLMOD simplicial) otherwise, in the
  natural order (lme4's term order, most levels first) unless asked for another ordering.

The blocked factorization was the faster one on every pattern it applies to, by 2× (InstEval)
to 25× (20k × 4k crossed); CHOLMOD's fill is inherent in large crossed factors, where no
ordering helps (``python -m benchmarks.bench_cholesky``; numbers in ``docs/measurements.md``).
``dense_max`` = 5000 bounds its dense blocks (C, S and, for gradients, S⁻¹) at about 600 MB.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Protocol

import numpy as np

from .blocked import BlockedFactor, blocked_pattern
from .cholmod import ORDERINGS, CholmodFactor, cholmod_factor
from .structure import ZStructure

__all__ = ["Factor", "analyze", "DENSE_MAX", "METHODS"]

# Largest trailing block factored densely (see the measurements above).
DENSE_MAX = 5000
METHODS = ("auto", "blocked", "cholmod")


class Factor(Protocol):
    """Numeric Cholesky factor L Lᵀ = P (ΛᵀZᵀWZΛ + I) Pᵀ on a fixed symbolic analysis.

    ``update`` refactors in place from the values of ZΛ in the CSR data order of the design's
    Z (and optional weights W); the other methods use the current factor.
    """

    method: str
    ordering: str

    @property
    def q(self) -> int: ...

    def update(self, zl_data: np.ndarray, weights: np.ndarray | None = None) -> None: ...

    def logdet(self) -> float: ...

    def solve_L(self, b: np.ndarray) -> np.ndarray: ...

    def solve_Lt(self, y: np.ndarray) -> np.ndarray: ...

    def solve(self, b: np.ndarray) -> np.ndarray: ...

    def inverse_diag_blocks(self, blocks) -> list[np.ndarray]: ...

    def row_inverse(self) -> np.ndarray: ...


def analyze(
    structure: ZStructure,
    method: str = "auto",
    ordering: str = "natural",
    dense_max: int = DENSE_MAX,
) -> Factor:
    """Symbolic analysis of ΛᵀZᵀWZΛ + I for a design's pattern; returns an unfactored Factor.

    Parameters
    ----------
    structure : ZStructure
        From :func:`bayesmix.linalg.z_structure`.
    method : {"auto", "blocked", "cholmod"}
        ``"auto"`` takes the blocked factorization when the columns after the first term
        number at most ``dense_max``, CHOLMOD otherwise.
    ordering : str
        CHOLMOD's fill-reducing ordering (:data:`~bayesmix.linalg.cholmod.ORDERINGS`); the
        blocked factorization always uses the natural order.
    dense_max : int

    Returns
    -------
    Factor
        Call ``update`` before any solve.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if ordering not in ORDERINGS:
        raise ValueError(f"unknown ordering {ordering!r}; use one of {', '.join(ORDERINGS)}")
    if not structure.blocks:
        raise ValueError("the design has no random terms to factor")
    blocked = method == "blocked" or (method == "auto" and structure.q_rest <= dense_max)
    key = _pattern_key(structure, "blocked" if blocked else ordering)
    cached = _SYMBOLIC.get(key)
    if cached is not None:
        _SYMBOLIC.move_to_end(key)
        if blocked:
            return BlockedFactor(cached)
        return CholmodFactor(structure, cached.copy(), ordering)
    if blocked:
        pattern = blocked_pattern(structure)
        _remember(key, pattern)
        return BlockedFactor(pattern)
    factor = cholmod_factor(structure, ordering=ordering)
    _remember(key, factor.symbolic_copy())
    return factor


# The symbolic analyses of the latest patterns: a refit on data with the same grouping
# structure (Fit.update with a new response, a bootstrap, a simulation study) reuses its
# ordering and elimination tree. Blocked patterns are read-only; CHOLMOD's symbolic factor
# is copied out, as its numeric factorization is done in place.
_SYMBOLIC: OrderedDict = OrderedDict()
_SYMBOLIC_MAX = 4


def _pattern_key(structure: ZStructure, kind: str) -> tuple:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(structure.indptr).view(np.uint8))
    digest.update(np.ascontiguousarray(structure.indices).view(np.uint8))
    digest.update(repr((structure.n, structure.q, structure.width,
                        structure.blocks)).encode())
    return digest.hexdigest(), kind


def _remember(key: tuple, value) -> None:
    _SYMBOLIC[key] = value
    while len(_SYMBOLIC) > _SYMBOLIC_MAX:
        _SYMBOLIC.popitem(last=False)
