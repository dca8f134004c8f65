"""Sparse linear algebra of mixed models: the Cholesky factor of ΛᵀZᵀWZΛ + I.

The only package that touches a sparse solver. Typical use::

    from bayesmix import linalg
    factor = linalg.analyze(linalg.z_structure(design))     # symbolic, once per design
    factor.update(design.Z_Lambda(theta).data, weights)     # numeric, per θ (and W)
    factor.logdet()            # log|L|²
    factor.solve_L(b)          # L⁻¹ P b          (‖·‖² = bᵀA⁻¹b)
    factor.solve_Lt(z)         # Pᵀ L⁻ᵀ z         (z ~ N(0, I) gives a draw from N(0, A⁻¹))
    factor.solve(b)            # A⁻¹ b
    factor.inverse_diag_blocks(blocks)   # diagonal blocks of A⁻¹ per term

See :mod:`bayesmix.linalg.factor` for how the factorization is chosen.
"""

from .blocked import BlockedFactor, blocked_pattern
from .cholmod import ORDERINGS, CholmodFactor, cholmod_factor
from .factor import DENSE_MAX, METHODS, Factor, analyze
from .structure import ZStructure, z_structure
from .threads import single_threaded_blas

__all__ = [
    "analyze",
    "Factor",
    "ZStructure",
    "z_structure",
    "BlockedFactor",
    "blocked_pattern",
    "CholmodFactor",
    "cholmod_factor",
    "ORDERINGS",
    "METHODS",
    "DENSE_MAX",
    "single_threaded_blas",
]
