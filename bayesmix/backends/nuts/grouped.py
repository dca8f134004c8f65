"""A random term's share of the linear predictor, η_i = Σ_c B[codes_i, c] X_k[i, c], as one Op.

Written with PyTensor's indexing, each column costs a gather pass over the rows and its
gradient a scatter-add pass into a zero vector, followed by the multiplications and a join: on
the 100k-row logistic benchmark those passes took about half of every gradient. Here the
forward map is one pass over the rows and its adjoint, the scatter
G[j, c] = Σ_{i: codes_i = j} g_i X_k[i, c], another. The two Ops are each other's gradient
(the map is linear in B), so any order of derivative stays inside them. Both are compiled by
PyTensor's numba backend (cached on disk) and have a NumPy ``perform`` for the other modes.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["GroupedRowDot", "GroupedScatter", "grouped_row_dot"]

# Joins PyTensor's on-disk cache key: bump it when a kernel below changes.
KERNEL_VERSION = 4


def _constants(codes, X):
    """Contiguous int64 codes and float64 X: numba embeds strided constants as dynamic
    globals, which would keep the compiled model out of the on-disk cache."""
    if isinstance(codes, np.ndarray):
        codes = np.ascontiguousarray(codes, dtype=np.int64)
    if isinstance(X, np.ndarray):
        X = np.ascontiguousarray(X, dtype=np.float64)
    return pt.as_tensor_variable(codes), pt.as_tensor_variable(X)


class GroupedRowDot(Op):
    """η_i = Σ_c B[codes_i, c] X[i, c] for B (m × r), integer codes (n,), X (n × r)."""

    __props__ = ()

    def make_node(self, B, codes, X):
        B = pt.as_tensor_variable(B)
        codes, X = _constants(codes, X)
        return Apply(self, [B, codes, X], [pt.dvector()])

    def perform(self, node, inputs, output_storage):
        B, codes, X = inputs
        output_storage[0][0] = np.einsum("ic,ic->i", B[codes], X)

    def grad(self, inputs, output_grads):
        B, codes, X = inputs
        (g,) = output_grads
        m = B.type.shape[0]
        if m is None:
            raise ValueError("GroupedRowDot needs B with a static number of rows")
        return [GroupedScatter(m)(g, codes, X), disconnected_type(), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False], [False]]


class GroupedScatter(Op):
    """G[j, c] = Σ_{i: codes_i = j} g_i X[i, c], the (m × r) adjoint of GroupedRowDot."""

    __props__ = ("m",)

    def __init__(self, m: int):
        self.m = int(m)

    def make_node(self, g, codes, X):
        g = pt.as_tensor_variable(g)
        codes, X = _constants(codes, X)
        out = pt.tensor(dtype="float64", shape=(self.m, X.type.shape[1]))
        return Apply(self, [g, codes, X], [out])

    def perform(self, node, inputs, output_storage):
        g, codes, X = inputs
        out = np.empty((self.m, X.shape[1]))
        for c in range(X.shape[1]):
            out[:, c] = np.bincount(codes, weights=g * X[:, c], minlength=self.m)
        output_storage[0][0] = out

    def grad(self, inputs, output_grads):
        _, codes, X = inputs
        (G,) = output_grads
        return [GroupedRowDot()(G, codes, X), disconnected_type(), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False], [False]]


def grouped_row_dot(B, codes: np.ndarray, X: np.ndarray):
    """A term's contribution to η (see :class:`GroupedRowDot`)."""
    return GroupedRowDot()(B, codes, X)


def _register_numba():
    from pytensor.link.numba.dispatch import basic as numba_basic
    from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(GroupedRowDot)
    def _row_dot(op, node=None, **kwargs):
        @numba_basic.numba_njit(fastmath=True, error_model="numpy")
        def row_dot(B, codes, X):
            n, r = X.shape
            # r = 1 and 2 ((1 | g), (1 + x | g)) unrolled: the inner loop halves the speed.
            if r == 1:
                out = np.empty(n)
                for i in range(n):
                    out[i] = B[codes[i], 0] * X[i, 0]
                return out
            if r == 2:
                out = np.empty(n)
                for i in range(n):
                    j = codes[i]
                    out[i] = B[j, 0] * X[i, 0] + B[j, 1] * X[i, 1]
                return out
            out = np.empty(n)
            for i in range(n):
                j = codes[i]
                s = 0.0
                for c in range(r):
                    s += B[j, c] * X[i, c]
                out[i] = s
            return out

        return row_dot, KERNEL_VERSION

    @register_funcify_default_op_cache_key(GroupedScatter)
    def _scatter(op, node=None, **kwargs):
        m = op.m

        @numba_basic.numba_njit(fastmath=True, error_model="numpy")
        def scatter(g, codes, X):
            n, r = X.shape
            out = np.zeros((m, r))
            if r == 1:
                for i in range(n):
                    out[codes[i], 0] += g[i] * X[i, 0]
                return out
            if r == 2:
                for i in range(n):
                    j = codes[i]
                    gi = g[i]
                    out[j, 0] += gi * X[i, 0]
                    out[j, 1] += gi * X[i, 1]
                return out
            for i in range(n):
                j = codes[i]
                gi = g[i]
                for c in range(r):
                    out[j, c] += gi * X[i, c]
            return out

        return scatter, KERNEL_VERSION


_register_numba()
