"""Compile a pm.Model once and sample it with nutpie (default) or PyMC's NUTS.

nutpie can run a PyMC model two ways:

- ``"pyfunc"`` (what ``"auto"`` almost always picks): we compile the log density and its
  gradient with PyTensor's numba backend and nutpie calls it through Python from one thread
  per chain. The compiled function takes the data as arguments and, when a gradient has
  enough work (``NOGIL_MIN_S``), runs without the GIL (:mod:`~bayesmix.backends.nuts.graph_inputs`,
  :mod:`~bayesmix.backends.nuts.nogil`), so the chains' gradients run in parallel; the whole
  function comes from PyTensor's disk cache for every later model of the same structure,
  shapes and priors (about 10 s of LLVM work the first time).
- ``"cfunc"``: nutpie compiles a numba C callback around the same graph. No Python call per
  gradient, but numba cannot cache the callback: every process pays 10–15 s of LLVM work.

``nutpie_mode="auto"`` predicts both times from the number of gradients, the work per
gradient (rows × columns touched) and the Python call cost, and takes cfunc only when the
Python calls of very long runs would cost more than its compilation.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .nogil import bound_call
from .options import NutsOptions

__all__ = ["Compiled", "compile_model", "sample", "SamplerOutput"]

# Estimated seconds of LLVM work that the cfunc mode adds; leapfrog steps
# per draw assumed when predicting the sampling time (tree depth 4, typical after adaptation); seconds per unit
# of gradient work (one row × one column) and per Python callback, measured on the models of
# the tests and benchmarks.
CFUNC_COMPILE_S = 10.0
STEPS_PER_DRAW = 16
SECONDS_PER_WORK = 1.5e-9
PYFUNC_CALL_S = 15e-6
# Below this much work per gradient the chains take turns on the GIL instead: releasing and
# re-taking it around every call costs more than the call (docs/measurements.md).
NOGIL_MIN_S = 50e-6

# nutpie's sample statistics under ArviZ's names.
_NUTPIE_STATS = {
    "diverging": "diverging",
    "depth": "tree_depth",
    "maxdepth_reached": "reached_max_treedepth",
    "energy": "energy",
    "energy_error": "energy_error",
    "step_size": "step_size",
    "mean_tree_accept": "acceptance_rate",
    "n_steps": "n_steps",
    "logp": "lp",
}
_PYMC_STATS = ("diverging", "tree_depth", "reached_max_treedepth", "energy", "energy_error",
               "step_size", "acceptance_rate", "n_steps", "lp")


@dataclass(frozen=True, eq=False)
class Compiled:
    """A model ready to sample.

    Attributes
    ----------
    mode : {"cfunc", "pyfunc", "pymc"}
    model : pymc.Model
    nutpie_model : nutpie CompiledModel or None
    seconds : float
        Compilation time (0 for "pymc", which compiles inside ``pm.sample``).
    seconds_per_gradient : float or None
        Measured cost of one log-density-and-gradient evaluation (pyfunc version).
    initial : dict
        Starting values handed to the sampler.
    """

    mode: str
    model: Any
    nutpie_model: Any
    seconds: float
    seconds_per_gradient: float | None = None
    initial: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SamplerOutput:
    """Raw draws of the free variables (constrained scale) and the sampler statistics."""

    draws: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]
    seconds: float


def _free_names(model) -> list[str]:
    return [rv.name for rv in model.free_RVs]


def _numba_functions(model, initial: dict, seed: int | None, nogil: bool = True):
    """x ↦ (logp, ∇logp) and x ↦ free RVs, compiled by PyTensor's numba backend (the first
    without the GIL when ``nogil``: :mod:`~bayesmix.backends.nuts.nogil`); the start-point
    function and x₀."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.initial_point import make_initial_point_fn
    from pymc.pytensorf import join_nonshared_inputs

    initial_fn = make_initial_point_fn(
        model=model, overrides=initial, jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    point = initial_fn(seed)
    value_vars = model.value_vars
    logp = model.logp(jacobian=True)
    grad = pt.concatenate([g.ravel() for g in pt.grad(logp, value_vars)])
    (logp, grad), x = join_nonshared_inputs(point, [logp, grad], value_vars)
    constrained = model.replace_rvs_by_values(model.free_RVs)
    expanded, x2 = join_nonshared_inputs(point, constrained, value_vars)
    logp_fn = pytensor.function([x], [logp, grad], mode="NUMBA")
    expand_fn = pytensor.function([x2], expanded, mode="NUMBA")
    names = [v.name for v in value_vars]
    # nutpie asks for every chain's start from its own thread, and a compiled PyTensor
    # function keeps its inputs and outputs in shared storage: unguarded concurrent calls
    # read each other's half-written values ("Failed to initialize point").
    lock = threading.Lock()

    def x0(seed_: int) -> np.ndarray:
        with lock:
            p = initial_fn(int(seed_))
            return np.concatenate([np.ravel(p[n]) for n in names]).astype(np.float64)

    # expand runs once per draw, not per gradient: the GIL costs it nothing worth a wrapper.
    return (bound_call(logp_fn, nogil=nogil), bound_call(expand_fn, nogil=False), x0,
            x0(0 if seed is None else seed))


def _time_gradient(logp, x0: np.ndarray) -> float:
    """Seconds per call of ``logp`` at x0 (reported in ``fit.info``); the first call, which
    may compile, is not counted."""
    logp(x0)
    reps, start = 0, time.perf_counter()
    while reps < 3 or (time.perf_counter() - start < 0.05 and reps < 1000):
        logp(x0)
        reps += 1
    return (time.perf_counter() - start) / reps


LOW_RANK_AUTO_MAX_PARAMS = 2000


def use_low_rank(options: NutsOptions, any_centred: bool, n_params: int) -> bool:
    """Whether nutpie adapts a low-rank-corrected mass matrix (see ``mass_matrix``)."""
    if options.sampler != "nutpie" or options.mass_matrix == "diag":
        return False
    if options.mass_matrix == "low_rank":
        return True
    return any_centred or n_params <= LOW_RANK_AUTO_MAX_PARAMS


def _threads(options: NutsOptions) -> int:
    import os

    cores = options.cores if options.cores is not None else (os.cpu_count() or 1)
    return max(1, min(cores, options.chains))


def choose_mode(options: NutsOptions, work: int) -> str:
    """The nutpie mode for ``options``; "auto" decides from ``work`` (rows × columns)."""
    if options.nutpie_mode != "auto":
        return options.nutpie_mode
    grads = options.chains * (options.draws + options.tune) * STEPS_PER_DRAW
    threads = _threads(options)
    # Both run the chains' gradients in parallel; pyfunc's Python calls take turns on the GIL.
    pyfunc = grads * max(PYFUNC_CALL_S, (SECONDS_PER_WORK * work + PYFUNC_CALL_S) / threads)
    cfunc = grads * SECONDS_PER_WORK * work / threads + CFUNC_COMPILE_S
    return "cfunc" if cfunc < pyfunc else "pyfunc"


def compile_model(model, initial: dict, options: NutsOptions, work: int) -> Compiled:
    """Compile ``model`` for the sampler and mode chosen by ``options``.

    ``initial`` maps free variables to starting values (before jitter) that replace PyMC's
    defaults; ``work`` is the model's rows × columns per gradient (see :func:`choose_mode`).
    """
    if options.sampler == "pymc":
        return Compiled("pymc", model, None, 0.0, initial=initial)
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    start = time.perf_counter()
    mode = choose_mode(options, work)
    if mode == "cfunc":
        compiled = nutpie.compile_pymc_model(
            model, var_names=_free_names(model), freeze_model=False,
            initial_points=dict(initial),
        )
        return Compiled("cfunc", model, compiled, time.perf_counter() - start)

    nogil = SECONDS_PER_WORK * work >= NOGIL_MIN_S
    logp_jit, expand_jit, x0_fn, x0 = _numba_functions(model, initial, options.seed, nogil)
    per_grad = _time_gradient(logp_jit, x0)
    names = _free_names(model)
    shapes = [tuple(int(s) for s in np.shape(a)) for a in expand_jit(x0)]

    def make_logp():
        def logp(x):
            value, grad = logp_jit(x)
            return float(value), grad

        return logp

    def make_expand(seed1, seed2, chain):
        def expand(x):
            return {n: np.asarray(v, dtype=np.float64).reshape(s)
                    for n, v, s in zip(names, expand_jit(x), shapes)}

        return expand

    compiled = from_pyfunc(
        ndim=x0.size,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        coords={k: list(v) for k, v in model.coords.items() if v is not None},
        dims={n: tuple(d) for n, d in model.named_vars_to_dims.items() if n in names},
        make_initial_point_fn=x0_fn,
    )
    return Compiled("pyfunc", model, compiled, time.perf_counter() - start, per_grad)


def _nutpie_sample(compiled: Compiled, options: NutsOptions, low_rank: bool) -> SamplerOutput:
    import nutpie

    start = time.perf_counter()
    trace = nutpie.sample(
        compiled.nutpie_model,
        draws=options.draws,
        tune=options.tune,
        chains=options.chains,
        cores=_threads(options),
        seed=options.seed,
        progress_bar=options.progressbar,
        save_warmup=False,
        low_rank_modified_mass_matrix=low_rank,
        target_accept=options.target_accept,
        maxdepth=options.max_treedepth,
    )
    seconds = time.perf_counter() - start
    post = trace.posterior
    draws = {n: np.asarray(post[n].values) for n in _free_names(compiled.model)}
    ss = trace.sample_stats
    stats = {new: np.asarray(ss[old].values) for old, new in _NUTPIE_STATS.items()
             if old in ss}
    return SamplerOutput(draws, stats, seconds)


def _pymc_sample(compiled: Compiled, options: NutsOptions) -> SamplerOutput:
    import pymc as pm

    start = time.perf_counter()
    with compiled.model:
        idata = pm.sample(
            draws=options.draws,
            tune=options.tune,
            chains=options.chains,
            cores=_threads(options),
            random_seed=options.seed,
            target_accept=options.target_accept,
            progressbar=options.progressbar,
            compute_convergence_checks=False,
            var_names=_free_names(compiled.model),
            initvals=dict(compiled.initial) or None,
            nuts={"max_treedepth": options.max_treedepth},
        )
    seconds = time.perf_counter() - start
    post = idata.posterior
    draws = {n: np.asarray(post[n].values) for n in _free_names(compiled.model)}
    ss = idata.sample_stats
    stats = {k: np.asarray(ss[k].values) for k in _PYMC_STATS if k in ss}
    return SamplerOutput(draws, stats, seconds)


def sample(compiled: Compiled, options: NutsOptions, low_rank: bool = False) -> SamplerOutput:
    """Run the chains; draws of every free variable with shape (chain, draw, ...)."""
    if compiled.mode == "pymc":
        return _pymc_sample(compiled, options)
    return _nutpie_sample(compiled, options, low_rank)


_CACHE: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def cached(spec, key: tuple, make):
    """``make()`` once per (spec, key): refitting a spec reuses its compiled model."""
    per_spec = _CACHE.setdefault(spec, {})
    if key not in per_spec:
        per_spec[key] = make()
    return per_spec[key]
