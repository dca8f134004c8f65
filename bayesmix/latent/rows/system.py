"""The field on rows sorted by the largest grouping factor: inputs, state, Hessian algebra.

The Newton system (:class:`RowsSystem`) that :func:`bayesmix.latent.newton` runs when the
data are too large for the sparse factor of :mod:`bayesmix.latent.mode`, or two large crossed
factors make its fill prohibitive: every evaluation is one fused, parallel pass over the rows
(:mod:`.kernels`) that also factors the Hessian level by level (Schur complement onto γ), and
large crossed terms are solved by preconditioned conjugate gradients.

Objective (minimised): the negative log posterior of x = (γ, u₁, v) at a fixed covariance,

    F(x) = −Σ_i log p(y_i | η_i) + ½‖u‖² + ½ Σ_k prec_k (γ_k − μ_k)²,

with b = T u per term (u ~ N(0, I)), γ = (cutpoints, β, dense u's), and Normal priors on β and
the cutpoints as (μ, prec = 1/sd²) (prec = 0 for flat priors; 1 with μ = 0 for the dense u's).
The normalising constants of the likelihood are included, so −F is the log-likelihood plus
the log prior kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np
import scipy.linalg as sla

from ...linalg import schur
from ...linalg.pcg import pcg
from . import hessian_kernels, kernels
from .layout import Layout

__all__ = ["Problem", "State", "RowsSystem", "evaluate", "newton_direction", "Hessian",
           "iterative_dot", "iterative_sums", "make_chunks", "new_state"]

# Bytes the per-chunk accumulators may take in all (each chunk holds its own dense block).
_CHUNK_BYTES = 512 * 2**20


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the solver reads and never changes."""

    layout: Layout
    family_code: int
    link_code: int
    sigma2: float
    family_params: np.ndarray
    prior_mean: np.ndarray
    prior_prec: np.ndarray
    const: float
    chunks: np.ndarray
    cg_chunks: np.ndarray

    @property
    def iterative(self) -> bool:
        """Whether a large crossed term makes the Newton system an iterative (PCG) solve."""
        return self.layout.q_v > 0

    @property
    def n_hess(self) -> int:
        return 6 if self.layout.n_alpha > 0 else 1


def make_chunks(layout: Layout, P: int, per_thread: int = 4) -> np.ndarray:
    """Boundaries (in primary levels) of chunks with about equal numbers of rows.

    A few chunks per thread balance the load on a shared machine; each chunk owns its
    accumulators, so their size caps the count.
    """
    per_chunk = 8 * (P * P + 2 * P) + 1
    n_chunks = max(1, min(per_thread * nb.get_num_threads(), layout.m1,
                          _CHUNK_BYTES // per_chunk))
    targets = np.linspace(0, layout.n, n_chunks + 1)[1:-1]
    inner = np.searchsorted(layout.level_ptr, targets)
    return np.unique(np.concatenate(([0], inner, [layout.m1]))).astype(np.int64)


@dataclass(eq=False)
class State:
    """The solver's mutable state: the point, its objective, gradient and Hessian factors."""

    gam: np.ndarray
    u1: np.ndarray
    v: np.ndarray
    F: float = np.inf
    F_data: float = np.inf
    g_gam: np.ndarray = field(default=None)
    gu: np.ndarray = field(default=None)
    gv: np.ndarray = field(default=None)
    L: np.ndarray = field(default=None)
    C: np.ndarray = field(default=None)
    C_ptr: np.ndarray = field(default=None)
    cvec: np.ndarray = field(default=None)
    S: np.ndarray = field(default=None)
    rhs: np.ndarray = field(default=None)
    Dv: tuple = ()
    hrow: np.ndarray = field(default=None)
    rowg: np.ndarray = field(default=None)
    parts: dict = field(default_factory=dict)

    def copy_point(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.gam.copy(), self.u1.copy(), self.v.copy()

    def flat_gradient(self) -> np.ndarray:
        return np.concatenate([self.g_gam, self.gu.ravel(), self.gv])


def new_state(problem: Problem, gam0: np.ndarray) -> State:
    """Allocate the state (work arrays sized once) at γ = gam0, u = 0, v = 0."""
    lay = problem.layout
    P, m1, r1 = lay.P, lay.m1, lay.r1
    n_ch = len(problem.chunks) - 1
    local = lay.P0 + np.diff(lay.pat_ptr)
    C_ptr = np.zeros(m1 + 1, dtype=np.int64)
    np.cumsum(r1 * local, out=C_ptr[1:])
    return State(
        gam=np.array(gam0, dtype=float), u1=np.zeros((m1, r1)), v=np.zeros(lay.q_v),
        L=np.zeros((m1, r1, r1)), C=np.zeros(C_ptr[-1]), C_ptr=C_ptr,
        cvec=np.zeros((m1, r1)), gu=np.zeros((m1, r1)),
        hrow=np.zeros((lay.n if problem.iterative else 0, problem.n_hess)),
        rowg=np.zeros(lay.n if problem.iterative else 0),
        parts={
            "F": np.zeros(n_ch), "g": np.zeros((n_ch, P)), "S": np.zeros((n_ch, P, P)),
            "rhs": np.zeros((n_ch, P)),
        },
    )


def _alpha_ok(problem: Problem, gam: np.ndarray) -> bool:
    a = gam[:problem.layout.n_alpha]
    return bool(np.all(np.diff(a) > 0)) if a.size > 1 else True


def evaluate(problem: Problem, st: State) -> float:
    """One fused pass at the state's point: F, gradient, factors. Returns F (inf if outside
    the domain: a Poisson η overflowing or ordinal thresholds out of order)."""
    lay = problem.layout
    if not _alpha_ok(problem, st.gam):
        st.F = np.inf
        return st.F
    pt = st.parts
    eta_it = iterative_dot(lay, st.v[:, None])[:, 0]
    kernels.newton_pass(
        problem.family_code, problem.link_code, problem.sigma2, problem.family_params,
        problem.chunks, lay.level_ptr, lay.y, lay.w,
        lay.trials, lay.offset, lay.Xf, lay.A1, lay.Ad, lay.dcol, lay.pos_d, lay.loc_d,
        lay.pat_ptr, lay.pat, eta_it, st.gam, lay.n_alpha, st.u1,
        problem.iterative, st.hrow, st.rowg, st.L, st.C, st.C_ptr, st.cvec, st.gu,
        pt["F"], pt["g"], pt["S"], pt["rhs"],
    )
    dev = st.gam - problem.prior_mean
    F_data = float(pt["F"].sum()) - 0.5 * float(np.sum(st.u1 * st.u1))
    st.F_data = F_data + problem.const
    st.F = (st.F_data + 0.5 * float(np.sum(st.u1 * st.u1)) + 0.5 * float(st.v @ st.v)
            + 0.5 * float(np.sum(problem.prior_prec * dev * dev)))
    if not np.isfinite(st.F):
        st.F = np.inf
        return st.F
    st.g_gam = pt["g"].sum(axis=0) + problem.prior_prec * dev
    st.S = pt["S"].sum(axis=0) + np.diag(problem.prior_prec)
    st.rhs = st.g_gam + pt["rhs"].sum(axis=0)
    st.gv = st.v.copy()
    blocks = []
    for t in range(len(lay.iterative)):
        lo, hi = lay.t_offsets[t], lay.t_offsets[t + 1]
        m, r = lay.it_ptr[t].shape[0] - 1, lay.it_A[t].shape[1]
        g_t, H_t = np.empty((m, r)), np.empty((m, r, r))
        hessian_kernels.term_grad_gram(lay.it_ptr[t], lay.it_rows[t], lay.it_A[t], st.rowg,
                               st.hrow[:, 0], g_t, H_t)
        st.gv[lo:hi] += g_t.ravel()
        blocks.append(H_t)
    st.Dv = tuple(blocks)
    return st.F


def iterative_dot(lay: Layout, v: np.ndarray) -> np.ndarray:
    """Per row, the iterative terms' part of J v for the D columns of v, (n, D); (0, D) when
    there are no iterative terms."""
    if lay.q_v == 0:
        return np.zeros((0, v.shape[1]))
    out = np.empty((lay.n, v.shape[1]))
    hessian_kernels.iterative_dot(lay.At, lay.tcol, lay.pos_t, np.ascontiguousarray(v), out)
    return out


def iterative_sums(lay: Layout, rowval: np.ndarray, out: np.ndarray | None = None):
    """Σ over each iterative level's rows of A_i rowval_i: the iterative terms' share of
    Jᵀ(rowval), (q_v, D)."""
    D = rowval.shape[1]
    if out is None:
        out = np.empty((lay.q_v, D))
    for t in range(len(lay.iterative)):
        lo, hi = lay.t_offsets[t], lay.t_offsets[t + 1]
        m, r = lay.it_ptr[t].shape[0] - 1, lay.it_A[t].shape[1]
        hessian_kernels.term_sums(lay.it_ptr[t], lay.it_rows[t], lay.it_A[t], rowval,
                          out[lo:hi].reshape(m, r, D))
    return out


class Hessian:
    """H at the state's point, acting on blocks of D vectors (arrays N × D, N = P + q₁ + q_v):
    products, the preconditioner and the (γ, u₁) block solve (see :mod:`.schur`)."""

    def __init__(self, problem: Problem, st: State):
        self.problem, self.st = problem, st
        lay = problem.layout
        self.S_chol = sla.cho_factor(st.S, lower=True)
        self.sizes = (lay.P, lay.m1 * lay.r1, lay.q_v)
        self.jacobi = self._jacobi_factors() if problem.iterative else []
        self._work: dict[int, dict[str, np.ndarray]] = {}

    @property
    def N(self) -> int:
        return sum(self.sizes)

    def _jacobi_factors(self) -> list[np.ndarray]:
        """(H_hh + I)⁻¹ per level of each iterative term, (m, r, r)."""
        out = []
        for blocks in self.st.Dv:
            r = blocks.shape[1]
            out.append(1.0 / (blocks + 1.0) if r == 1 else np.linalg.inv(blocks + np.eye(r)))
        return out

    def work(self, D: int) -> dict[str, np.ndarray]:
        """Per-chunk accumulators for D columns, allocated once per D."""
        if D not in self._work:
            lay, n_ch = self.problem.layout, len(self.problem.cg_chunks) - 1
            self._work[D] = {"g": np.empty((n_ch, lay.P, D)),
                             "rows": np.empty((lay.n if lay.q_v else 0, D))}
        return self._work[D]

    def split(self, X: np.ndarray):
        """Views (P, D), (m₁, r₁, D), (q_v, D) of an N × D block."""
        P, q1, _ = self.sizes
        lay = self.problem.layout
        return X[:P], X[P:P + q1].reshape(lay.m1, lay.r1, X.shape[1]), X[P + q1:]

    def solve_block(self, r_gam: np.ndarray, r_u1: np.ndarray, out_gam, out_u1) -> None:
        """The (γ, u₁) block solve, exact through the Schur complement, into the outputs."""
        lay, st = self.problem.layout, self.st
        c = np.empty_like(r_u1)
        part = self.work(r_u1.shape[2])["g"]
        schur.forward(self.problem.cg_chunks, st.L, st.C, st.C_ptr, lay.pat_ptr, lay.pat,
                      lay.P0, r_u1, c, part)
        out_gam[:] = sla.cho_solve(self.S_chol, r_gam + part.sum(axis=0))
        schur.back(st.L, st.C, st.C_ptr, lay.pat_ptr, lay.pat, lay.P0, c, out_gam, out_u1)

    def precondition(self, R: np.ndarray) -> np.ndarray:
        """M⁻¹ R with M = blockdiag(H_(γ,u₁), H_hh + I per level of the iterative terms)."""
        Z = np.empty_like(R)
        r_gam, r_u1, r_v = self.split(R)
        z_gam, z_u1, z_v = self.split(Z)
        self.solve_block(r_gam, r_u1, z_gam, z_u1)
        lay = self.problem.layout
        for t, Binv in enumerate(self.jacobi):
            lo, hi = lay.t_offsets[t], lay.t_offsets[t + 1]
            m, r = Binv.shape[0], Binv.shape[1]
            z_v[lo:hi] = np.einsum("mab,mbd->mad", Binv,
                                   r_v[lo:hi].reshape(m, r, -1)).reshape(hi - lo, -1)
        return Z

    def matvec(self, X: np.ndarray) -> np.ndarray:
        """H X: the likelihood part from the stored row Hessians plus the prior precision."""
        lay, st, pr = self.problem.layout, self.st, self.problem
        d_gam, d_u1, d_v = self.split(X)
        out = np.empty_like(X)
        o_gam, o_u1, o_v = self.split(out)
        w = self.work(X.shape[1])
        args = (pr.cg_chunks, lay.level_ptr, lay.y, lay.Xf, lay.A1, lay.Ad, lay.dcol, lay.pos_d,
                lay.n_alpha, st.hrow)
        t_it = iterative_dot(lay, d_v)
        if X.shape[1] == 1:
            hessian_kernels.hess_vec1(*args, d_gam[:, 0], d_u1[:, :, 0], t_it[:, 0],
                                 o_u1[:, :, 0], w["g"][:, :, 0], w["rows"][:, 0])
        else:
            hessian_kernels.hess_vec(*args, d_gam, d_u1, t_it, o_u1, w["g"], w["rows"])
        o_gam[:] = w["g"].sum(axis=0) + pr.prior_prec[:, None] * d_gam
        o_u1 += d_u1
        iterative_sums(lay, w["rows"], o_v)
        o_v += d_v
        return out


def newton_direction(problem: Problem, st: State, rtol: float, max_iter: int):
    """δ ≈ H⁻¹ g and the Newton decrement λ² = gᵀδ; with CG statistics when iterative.

    Returns (d_gam, d_u1, d_v, lam2, cg_iterations, cg_residual).
    """
    H = Hessian(problem, st)
    lay = problem.layout
    if not problem.iterative:
        d_gam = sla.cho_solve(H.S_chol, st.rhs)
        d_u1 = np.empty((lay.m1, lay.r1, 1))
        schur.back(st.L, st.C, st.C_ptr, lay.pat_ptr, lay.pat, lay.P0, st.cvec[:, :, None],
                   np.ascontiguousarray(d_gam[:, None]), d_u1)
        lam2 = float(np.sum(st.cvec * st.cvec) + st.rhs @ d_gam)
        return d_gam, d_u1[:, :, 0], np.zeros(0), lam2, 0, 0.0
    g = st.flat_gradient()[:, None]
    d, iters, rel = pcg(H.matvec, H.precondition, g, rtol, max_iter)
    d_gam, d_u1, d_v = H.split(d)
    return (d_gam[:, 0].copy(), d_u1[:, :, 0].copy(), d_v[:, 0].copy(), float(g[:, 0] @ d[:, 0]),
            iters, rel)


class RowsSystem:
    """The Newton system of :mod:`bayesmix.latent.newton` on the row layout; x is the flat
    concatenation (γ, u₁, v). Newton directions of the iterative case are solved to the
    forcing tolerance min(0.1, ‖g‖/‖g₀‖), which keeps the convergence quadratic."""

    def __init__(self, problem: Problem, st: State, cg_max_iter: int):
        self.problem, self.st = problem, st
        lay = problem.layout
        self.sizes = (lay.P, lay.m1 * lay.r1, lay.q_v)
        self.cg_max_iter = cg_max_iter
        self.cg_iterations: list[int] = []
        self._g0 = None

    def point(self) -> np.ndarray:
        st = self.st
        return np.concatenate([st.gam, st.u1.ravel(), st.v])

    def _set(self, x: np.ndarray) -> None:
        P, q1, _ = self.sizes
        st = self.st
        st.gam = x[:P].copy()
        st.u1 = x[P:P + q1].reshape(st.u1.shape).copy()
        st.v = x[P + q1:].copy()

    def evaluate(self, x: np.ndarray) -> float:
        self._set(x)
        return evaluate(self.problem, self.st)

    def direction(self) -> tuple[np.ndarray, float]:
        gnorm = float(np.linalg.norm(self.st.flat_gradient()))
        if self._g0 is None:
            self._g0 = gnorm
        forcing = min(0.1, gnorm / self._g0) if self._g0 > 0 else 0.1
        d_gam, d_u1, d_v, lam2, n_cg, _ = newton_direction(self.problem, self.st, forcing,
                                                           self.cg_max_iter)
        if self.problem.iterative:
            self.cg_iterations.append(n_cg)
        return -np.concatenate([d_gam, d_u1.ravel(), d_v]), lam2
