"""The model's data as named inputs of the compiled graph, not as constants inside it.

numba cannot cache a compiled function that embeds large arrays (it treats them as dynamic
globals), so a graph with the data as constants is compiled from scratch in every process:
about 15 s for a logistic GLMM, whatever its size. As shared variables with static shapes the
data enter the compiled function as arguments: the function's on-disk cache then serves every
later fit of a model with the same structure, shapes and priors, and the rewrites still see
the shapes. Everything computed from the data goes this way (centred columns, their means,
codes, weights), and so do the priors' parameters (the data-scaled defaults included): a
model of the same structure and shapes compiles once, whatever its data and priors.
"""

from __future__ import annotations

import numpy as np

__all__ = ["data_var"]


def data_var(value: np.ndarray, name: str, dtype=np.float64):
    """``value`` as a C-contiguous shared variable named ``name`` with a static shape."""
    import pytensor

    # (np.ascontiguousarray would turn a scalar into a 1-vector.)
    arr = np.ascontiguousarray(value, dtype=dtype) if np.ndim(value) else np.asarray(
        value, dtype=dtype)
    return pytensor.shared(arr, name=name, shape=arr.shape, borrow=True)
