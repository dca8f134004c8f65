"""Single-threaded BLAS for the small dense pieces of a mixed-model fit.

The dense work of a fit (the trailing Schur complement, q₂ ≤ a few thousand; XᵀWX with small
p) gains at most 2× from a second thread on an idle machine, while a multithreaded OpenBLAS on
a busy machine spins against other processes and can be slower by orders of magnitude
(``docs/measurements.md``). The load can change during a fit, so fits run their BLAS calls
single-threaded whatever the size (numba kernels are unaffected).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

__all__ = ["single_threaded_blas"]


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas():
    """Context in which every loaded BLAS (OpenBLAS, MKL, ...) uses one thread."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
