"""Single-threaded BLAS for the small dense pieces of a mixed-model fit.

The dense work of a fit (the trailing Schur complement, q₂ ≤ a few thousand; XᵀWX with small
p) gains little from threads, while a multithreaded OpenBLAS on a busy machine can be slowed
down by orders of magnitude: measured here, a 131 × 131 ``dpotrf`` took 0.2 s with two
OpenBLAS threads while another process kept both cores busy, and 0.05 ms with one thread.
At InstEval's size (1156 × 1156, the largest dense block of the benchmarks) on the 2-core
machine: with nothing else running, two threads took ``dpotrf`` from 14.9 to 10.8 ms and
``dpotri`` from 29 to 15 ms; at load 2.6 two threads were twice slower (``dpotrf`` 31-38 ms,
``dpotri`` 57-73 ms, single calls up to 4.7 s with the threads spinning against other
processes), and at load 6 a two-thread ``dpotrf`` took 2.3 s. One thread loses at most 2×
on an idle machine, two threads lost up to 100× on a busy one, and the load can change during
a fit, so fits run their BLAS calls single-threaded whatever the size (numba kernels are
unaffected).
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
