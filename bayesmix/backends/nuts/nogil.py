"""Call a PyTensor function compiled by numba without holding the GIL, from the disk cache.

nutpie's "pyfunc" mode calls the log density through Python, from one thread per chain.
PyTensor's numba functions keep the GIL while they run, so the chains would take turns. Here
the compiled graph is wrapped in a small numba function marked ``nogil`` that takes the
graph's data inputs (:mod:`bayesmix.backends.nuts.graph_inputs`) as arguments: only the Python call
itself is serialized, the gradient work of the chains runs in parallel.

The wrapper goes through PyTensor's numba cache under a key derived from the graph's own key,
so a later process that fits a model of the same structure and shapes loads both from disk
instead of spending several seconds in LLVM.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["bound_call"]

# Joins the wrapper's cache key: bump it when the generated source changes.
WRAPPER_VERSION = 1


def _wrapper(jit_fn, n_args: int):
    import numba
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    names = ", ".join(f"a{i}" for i in range(n_args))
    src = f"def call_without_gil({names}):\n    return inner({names})\n"
    graph_key = CACHED_SRC_FUNCTIONS.get(jit_fn.py_func)
    key = None if graph_key is None else f"bayesmix-nogil-{WRAPPER_VERSION}-{graph_key}"
    # __name__ lets numba rebuild the function's environment when it loads it from the cache.
    py_func = compile_numba_function_src(
        src, "call_without_gil", {"inner": jit_fn, "__name__": __name__}, cache_key=key,
    )
    return numba.njit(py_func, nogil=True, cache=key is not None)


def bound_call(fn, *, nogil: bool = True) -> Callable[[np.ndarray], tuple]:
    """``x ↦ fn(x)`` for a numba-mode PyTensor function of one explicit input, its data bound.

    Parameters
    ----------
    fn : pytensor.compile.function.types.Function
        Compiled with ``mode="NUMBA"``; its shared variables (the data) are bound as they
        are now.
    nogil : bool
        Run without the GIL (through the cached wrapper). For a cheap function the GIL hand-offs
        of two chains cost more than running them in parallel saves; then False calls the
        compiled graph directly.

    Returns
    -------
    callable
        Takes the explicit input and returns the tuple of outputs, as ``fn.vm.jit_fn`` does.
    """
    graph_inputs = fn.maker.fgraph.inputs
    if len(fn.input_storage) != len(graph_inputs) or len(fn.maker.inputs) < 1:
        raise ValueError("bound_call needs a function whose inputs are x and shared data")
    data = tuple(cell.data for cell in fn.input_storage[1:])
    call = _wrapper(fn.vm.jit_fn, 1 + len(data)) if nogil else fn.vm.jit_fn

    def evaluate(x: np.ndarray):
        return call(x, *data)

    evaluate.dispatcher = call
    return evaluate
