"""The solver's view of a design: rows ordered by the primary factor, terms partitioned.

Newton's Hessian in x = (γ, u₁, v) is laid out by the roles the random terms play:

- the *primary* term (the one with the most random effects m·r): its u₁ is block diagonal (r₁ × r₁ per
  level) and eliminated level by level onto γ (a Schur complement);
- *dense* terms (smaller crossed terms, in all at most ``dense_max`` effects): their u joins
  γ = (cutpoints, β, u_dense), the dense block;
- *iterative* terms (large crossed terms): their v is reached by preconditioned CG.

Random effects are parameterised as lme4 does, b = T u with u ~ N(0, I), so a singular
covariance is no special case. Each term's columns are stored pre-multiplied, A = X_k T_k
(the rows of ZΛ), in the row order of the primary factor: a counting sort of its codes, once
per design, makes each level's rows contiguous, so one pass over the data visits the levels in
turn and accumulates their blocks without scattered writes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numba as nb
import numpy as np

from ...design import Design

__all__ = ["Layout", "make_layout", "row_order"]

_ORDER_CACHE: "weakref.WeakKeyDictionary[Design, dict]" = weakref.WeakKeyDictionary()


@nb.njit(cache=True)
def _counting_sort(codes, m):
    counts = np.zeros(m + 1, dtype=np.int64)
    for i in range(codes.shape[0]):
        counts[codes[i] + 1] += 1
    for j in range(m):
        counts[j + 1] += counts[j]
    level_ptr = counts.copy()
    perm = np.empty(codes.shape[0], dtype=np.int64)
    for i in range(codes.shape[0]):
        k = codes[i]
        perm[counts[k]] = i
        counts[k] += 1
    return perm, level_ptr


def row_order(design: Design, primary: int) -> tuple[np.ndarray, np.ndarray]:
    """(perm, level_ptr): rows sorted by the codes of term ``primary`` (stable), cached."""
    cache = _ORDER_CACHE.setdefault(design, {})
    if primary not in cache:
        t = design.terms[primary]
        perm, level_ptr = _counting_sort(np.asarray(t.codes, dtype=np.int64), t.m)
        perm.flags.writeable = False
        level_ptr.flags.writeable = False
        cache[primary] = (perm, level_ptr)
    return cache[primary]


@nb.njit(parallel=True, cache=True)
def _gather_times(X, perm, T):
    """X[perm] @ T, row by row (no n × r temporary besides the result)."""
    n, r = perm.shape[0], T.shape[1]
    out = np.empty((n, r))
    for i in nb.prange(n):
        src = perm[i]
        for c in range(r):
            acc = 0.0
            for a in range(X.shape[1]):
                acc += X[src, a] * T[a, c]
            out[i, c] = acc
    return out


@nb.njit(parallel=True, cache=True)
def _take_rows(X, perm):
    """X[perm] for a 2-D array, in parallel (NumPy's fancy indexing runs on one core)."""
    out = np.empty((perm.shape[0], X.shape[1]), dtype=X.dtype)
    for i in nb.prange(perm.shape[0]):
        for c in range(X.shape[1]):
            out[i, c] = X[perm[i], c]
    return out


def _take(arr, perm) -> np.ndarray:
    """Rows of a 1-D or 2-D array in solver order, as a new contiguous float64 array."""
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 1:
        return _take_rows(arr.reshape(-1, 1), perm).reshape(-1)
    return _take_rows(np.ascontiguousarray(arr), perm)


@nb.njit(cache=True)
def _patterns(level_ptr, pos_d, sizes, P0):
    """Per primary level: the γ positions its rows touch beyond the first P0 (dense terms),
    and for each row and dense term the local index of its block."""
    m = level_ptr.shape[0] - 1
    nd = pos_d.shape[1]
    pat_ptr = np.zeros(m + 1, dtype=np.int64)
    loc = np.empty(pos_d.shape, dtype=np.int64)
    for phase in range(2):
        if phase == 1:
            for j in range(m):
                pat_ptr[j + 1] += pat_ptr[j]
            pat = np.empty(pat_ptr[m], dtype=np.int64)
        for j in range(m):
            lo, hi = level_ptr[j], level_ptr[j + 1]
            starts = np.empty((hi - lo) * nd, dtype=np.int64)
            width = np.empty((hi - lo) * nd, dtype=np.int64)
            k = 0
            for i in range(lo, hi):
                for s in range(nd):
                    starts[k] = pos_d[i, s]
                    width[k] = sizes[s]
                    k += 1
            order = np.argsort(starts)
            ustart = np.empty(k, dtype=np.int64)
            uwidth = np.empty(k, dtype=np.int64)
            nu = 0
            for a in range(k):
                st = starts[order[a]]
                if nu == 0 or ustart[nu - 1] != st:
                    ustart[nu] = st
                    uwidth[nu] = width[order[a]]
                    nu += 1
            total = 0
            for a in range(nu):
                total += uwidth[a]
            if phase == 0:
                pat_ptr[j + 1] = total
                continue
            local = np.empty(nu, dtype=np.int64)
            off = 0
            for a in range(nu):
                local[a] = P0 + off
                for c in range(uwidth[a]):
                    pat[pat_ptr[j] + off + c] = ustart[a] + c
                off += uwidth[a]
            for i in range(lo, hi):
                for s in range(nd):
                    loc[i, s] = local[np.searchsorted(ustart[:nu], pos_d[i, s])]
    return pat_ptr, pat, loc


@dataclass(frozen=True, eq=False)
class Layout:
    """Arrays of one fit in primary-factor row order (see the module docstring).

    γ = (cutpoints (n_alpha), β (p), dense u's); ``pos_d[i, s]`` is the γ position of row i's
    block of dense term s, ``pos_t[i, t]`` the position in v of its block of iterative term t.
    For each iterative term, ``it_ptr``/``it_rows`` list its rows level by level (a counting
    sort of its codes, in primary row order) and ``it_A`` holds its columns in that order.
    """

    n: int
    p: int
    n_alpha: int
    primary: int
    dense: tuple[int, ...]
    iterative: tuple[int, ...]
    perm: np.ndarray
    level_ptr: np.ndarray
    y: np.ndarray
    w: np.ndarray
    trials: np.ndarray
    offset: np.ndarray
    Xf: np.ndarray
    A1: np.ndarray
    Ad: np.ndarray
    dcol: np.ndarray
    pos_d: np.ndarray
    d_offsets: tuple[int, ...]
    pat_ptr: np.ndarray
    pat: np.ndarray
    loc_d: np.ndarray
    At: np.ndarray
    tcol: np.ndarray
    pos_t: np.ndarray
    t_offsets: tuple[int, ...]
    q_v: int
    it_ptr: tuple[np.ndarray, ...]
    it_rows: tuple[np.ndarray, ...]
    it_A: tuple[np.ndarray, ...]

    @property
    def P0(self) -> int:
        """Cutpoints and β: the part of γ every row touches."""
        return self.n_alpha + self.p

    @property
    def P(self) -> int:
        return self.d_offsets[-1] if self.d_offsets else self.P0

    @property
    def m1(self) -> int:
        return self.level_ptr.shape[0] - 1

    @property
    def r1(self) -> int:
        return self.A1.shape[1]


def _partition(design: Design, dense_max: int) -> tuple[int, list[int], list[int]]:
    terms = design.terms
    primary = max(range(len(terms)), key=lambda k: (terms[k].q, terms[k].m, -k))
    rest = sorted((k for k in range(len(terms)) if k != primary), key=lambda k: terms[k].q)
    dense, iterative, used = [], [], 0
    for k in rest:
        if used + terms[k].q <= dense_max and not iterative:
            dense.append(k)
            used += terms[k].q
        else:
            iterative.append(k)
    return primary, dense, iterative


def _sorted(arr, perm) -> np.ndarray:
    """The rows of an optional per-row array in solver order; length 0 when absent."""
    if arr is None:
        return np.empty(0)
    return _take(arr, perm)


def make_layout(design: Design, factors, dense_max: int,
                row_values: np.ndarray | None = None) -> Layout:
    """Sort and transform the design's arrays for the solver (O(n) work and memory);
    ``factors`` are the T_k (Σ_k = T_k T_kᵀ) per term in design order; ``row_values``
    replace the trials as the kernels' per-row value (a zero-inflated family's ζ)."""
    terms = design.terms
    primary, dense, iterative = _partition(design, dense_max)
    perm, level_ptr = row_order(design, primary)
    n, p = design.n, design.p
    n_alpha = len(design.response_levels) - 1 if design.family.name == "ordinal" else 0
    P0 = n_alpha + p

    def stack(idx, base):
        cols = [0]
        blocks = []
        pos = np.empty((n, len(idx)), dtype=np.int64)
        offsets = [base]
        for s, k in enumerate(idx):
            t = terms[k]
            blocks.append(_gather_times(np.ascontiguousarray(t.X, dtype=float), perm,
                                        np.ascontiguousarray(factors[k])))
            cols.append(cols[-1] + t.r)
            codes = _take_rows(np.asarray(t.codes, dtype=np.int64).reshape(-1, 1), perm)[:, 0]
            pos[:, s] = offsets[-1] + codes * t.r
            offsets.append(offsets[-1] + t.q)
        A = np.ascontiguousarray(np.hstack(blocks)) if blocks else np.empty((n, 0))
        return A, np.array(cols, dtype=np.int64), pos, tuple(offsets)

    Ad, dcol, pos_d, d_offsets = stack(dense, P0)
    At, tcol, pos_t, t_offsets = stack(iterative, 0)
    it_ptr, it_rows, it_A = [], [], []
    for s, k in enumerate(iterative):
        t = terms[k]
        codes = _take_rows(np.asarray(t.codes, dtype=np.int64).reshape(-1, 1), perm)[:, 0]
        rows, ptr = _counting_sort(codes, t.m)
        it_ptr.append(ptr)
        it_rows.append(rows)
        it_A.append(_take_rows(np.ascontiguousarray(At[:, tcol[s]:tcol[s + 1]]), rows))
    if dense:
        sizes = np.array([terms[k].r for k in dense], dtype=np.int64)
        pat_ptr, pat, loc_d = _patterns(level_ptr, pos_d, sizes, P0)
    else:
        pat_ptr = np.zeros(len(level_ptr), dtype=np.int64)
        pat, loc_d = np.empty(0, dtype=np.int64), np.empty((n, 0), dtype=np.int64)
    t1 = terms[primary]
    A1 = _gather_times(np.ascontiguousarray(t1.X, dtype=float), perm,
                       np.ascontiguousarray(factors[primary]))
    y = _take(design.y, perm)
    return Layout(
        n=n, p=p, n_alpha=n_alpha, primary=primary, dense=tuple(dense),
        iterative=tuple(iterative), perm=perm, level_ptr=level_ptr, y=y,
        w=_sorted(design.weights, perm), trials=_sorted(design.trials if row_values is None else row_values, perm),
        offset=_sorted(design.offset, perm),
        Xf=_take(design.X, perm),
        A1=A1, Ad=Ad, dcol=dcol, pos_d=pos_d, d_offsets=d_offsets if dense else (P0,),
        pat_ptr=pat_ptr, pat=pat, loc_d=loc_d, At=At, tcol=tcol, pos_t=pos_t,
        t_offsets=t_offsets, q_v=t_offsets[-1], it_ptr=tuple(it_ptr), it_rows=tuple(it_rows),
        it_A=tuple(it_A),
    )
