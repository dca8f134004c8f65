"""Gaussian uncertainty at the mode: covariance of (cutpoints, β), conditional SDs of b, draws.

With x̂ the mode and H the Hessian of the negative log posterior there, the approximation is
x ~ N(x̂, H⁻¹) with the covariance of the random effects held fixed.

Exact quantities when no term is solved iteratively (one factor, or one large factor plus
small crossed ones): Cov(γ) = S⁻¹ (Schur complement), the per-level blocks
(H⁻¹)_jj = L_j⁻ᵀ(I + C_j S⁻¹ C_jᵀ)L_j⁻¹ of the primary term, and draws by block elimination.

With a large crossed term (PCG): Cov(cutpoints, β) is exact, column by column from PCG
solves H x = e_k; draws are exact up to the PCG tolerance (perturbation: x = H⁻¹ ε with
ε ~ N(0, H)); the diagonal blocks of H⁻¹ for b are the exact blocks of the inverse of each
term's own block of H (conditional on the other large crossed term: for the primary term and
the dense block the (γ, u₁) block, for the iterative terms H_hh per level) plus a
Rao–Blackwellised Monte Carlo estimate, from the draws, of what the coupling adds
(:func:`_rao_blackwell`): unbiased, with Monte Carlo error in that addition only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ...linalg import schur
from ...linalg.pcg import pcg
from . import hessian_kernels
from .system import Hessian, Problem, State, iterative_sums

__all__ = ["Uncertainty", "uncertainty", "draw"]

_BATCH_BYTES = 2 * 2**30
_BATCH_MAX = 8


@dataclass(frozen=True, eq=False)
class Uncertainty:
    gamma0_cov: np.ndarray
    b_var: tuple[np.ndarray, ...]
    exact_b_sd: bool
    cg_iterations: int


def _dense_block_var(S_inv, start, m, r, T):
    idx = start + np.arange(m)[:, None] * r + np.arange(r)[None, :]
    blocks = S_inv[idx[:, :, None], idx[:, None, :]]
    return np.einsum("ac,mcd,ad->ma", T, blocks, T)


def uncertainty(problem: Problem, st: State, H: Hessian, factors, design_terms,
                cg_tol: float, cg_max_iter: int) -> Uncertainty:
    """Cov(cutpoints, β) and Var(b) per term (design order) at the mode."""
    lay = problem.layout
    P, P0 = lay.P, lay.P0
    S_inv = sla.cho_solve(H.S_chol, np.eye(P))
    cg_total = 0
    if problem.iterative:
        E = np.zeros((H.N, P0))
        E[np.arange(P0), np.arange(P0)] = 1.0
        X, cg_total, _ = pcg(H.matvec, H.precondition, E, cg_tol, cg_max_iter)
        cov0 = X[:P0]
        cov0 = (cov0 + cov0.T) / 2
    else:
        cov0 = S_inv[:P0, :P0]
    var: list[np.ndarray | None] = [None] * len(design_terms)
    t1 = design_terms[lay.primary]
    out = np.empty((lay.m1, t1.r))
    schur.cond_var(st.L, st.C, st.C_ptr, lay.pat_ptr, lay.pat, P0, S_inv,
                   np.ascontiguousarray(factors[lay.primary]), out)
    var[lay.primary] = out
    for s, k in enumerate(lay.dense):
        t = design_terms[k]
        var[k] = _dense_block_var(S_inv, lay.d_offsets[s], t.m, t.r, factors[k])
    for s, k in enumerate(lay.iterative):
        t = design_terms[k]
        var[k] = np.einsum("ac,mcd,ad->ma", factors[k], H.jacobi[s], factors[k])
    return Uncertainty(cov0, tuple(np.clip(v, 0, None) for v in var),
                       exact_b_sd=not problem.iterative, cg_iterations=cg_total)


def draw(problem: Problem, st: State, H: Hessian, factors, design_terms, n_draws: int,
         rng: np.random.Generator, cg_tol: float, cg_max_iter: int):
    """Draws of γ (n_draws, P) and of b per term (n_draws, m, r) from N(x̂, H⁻¹).

    With iterative terms also returns, per term, the Rao–Blackwell correction of Var(b)
    (see :func:`_rao_blackwell`), else None.
    """
    lay = problem.layout
    b_draws: list[np.ndarray | None] = [None] * len(design_terms)
    cg_total = 0
    correction = None
    if not problem.iterative:
        L_S = np.tril(H.S_chol[0])
        z = rng.standard_normal((lay.P, n_draws))
        d_gam = sla.solve_triangular(L_S, z, lower=True, trans="T").T
        gam = st.gam[None, :] + d_gam
        Z = rng.standard_normal((n_draws, lay.m1, lay.r1))
        out = np.empty((n_draws, lay.m1, design_terms[lay.primary].r))
        schur.draws(problem.chunks, st.L, st.C, st.C_ptr, lay.pat_ptr, lay.pat, lay.P0, st.u1,
                    np.ascontiguousarray(d_gam), Z, np.ascontiguousarray(factors[lay.primary]),
                    out)
        b_draws[lay.primary] = out
        v = np.zeros((n_draws, 0))
    else:
        gam = np.empty((n_draws, lay.P))
        u1 = np.empty((n_draws, lay.m1, lay.r1))
        v = np.empty((n_draws, lay.q_v))
        batch = _batch_size(H, n_draws)
        correction = [np.zeros((t.m, t.r)) for t in design_terms]
        for lo in range(0, n_draws, batch):
            hi = min(lo + batch, n_draws)
            eps = _perturbation(problem, st, H, rng, hi - lo)
            X, its, _ = pcg(H.matvec, H.precondition, eps, cg_tol, cg_max_iter)
            cg_total += its
            _rao_blackwell(problem, H, factors, eps, X, correction)
            xg, xu, xv = H.split(X)
            gam[lo:hi] = st.gam + xg.T
            u1[lo:hi] = st.u1 + np.moveaxis(xu, 2, 0)
            v[lo:hi] = st.v + xv.T
        b_draws[lay.primary] = np.einsum("dmc,ac->dma", u1, factors[lay.primary])
    for s, k in enumerate(lay.dense):
        t = design_terms[k]
        u = gam[:, lay.d_offsets[s]:lay.d_offsets[s + 1]].reshape(n_draws, t.m, t.r)
        b_draws[k] = np.einsum("dmc,ac->dma", u, factors[k])
    for s, k in enumerate(lay.iterative):
        t = design_terms[k]
        u = v[:, lay.t_offsets[s]:lay.t_offsets[s + 1]].reshape(n_draws, t.m, t.r)
        b_draws[k] = np.einsum("dmc,ac->dma", u, factors[k])
    if correction is not None:
        correction = [c / n_draws for c in correction]
    return gam, b_draws, cg_total, correction


def _rao_blackwell(problem: Problem, H: Hessian, factors, eps, X, acc) -> None:
    """Add Σ_d (T m_d)² per level to ``acc``, m_d = E[x_block | rest] − x̂_block for draw d.

    For x = H⁻¹ε ~ N(0, H⁻¹) and a block B with the rest R, E[x_B | x_R] = −H_BB⁻¹ H_BR x_R
    = x_B − H_BB⁻¹ (H x)_B = x_B − H_BB⁻¹ ε_B, no extra pass needed. Then
    Var(x_B) = H_BB⁻¹ + Var(E[x_B | x_R]): the first term is what :func:`uncertainty`
    computes exactly (blocks (γ, u₁) and each iterative level), the second is estimated from
    the draws — a Rao–Blackwellised Monte Carlo estimate of the diagonal blocks of H⁻¹
    (Sidén, Lindgren, Bolin & Villani 2018), unbiased, its noise confined to the coupling
    between the blocks.
    """
    lay = problem.layout
    e_gam, e_u1, e_v = H.split(eps)
    x_gam, x_u1, x_v = H.split(X)
    z_gam, z_u1 = np.empty_like(e_gam), np.empty_like(e_u1)
    H.solve_block(np.ascontiguousarray(e_gam), np.ascontiguousarray(e_u1), z_gam, z_u1)
    m_u1 = x_u1 - z_u1
    acc[lay.primary] += _squared_b(factors[lay.primary], m_u1)
    m_gam = x_gam - z_gam
    for s, k in enumerate(lay.dense):
        r = factors[k].shape[0]
        m = m_gam[lay.d_offsets[s]:lay.d_offsets[s + 1]].reshape(-1, r, m_gam.shape[1])
        acc[k] += _squared_b(factors[k], m)
    for t, (k, Binv) in enumerate(zip(lay.iterative, H.jacobi)):
        lo, hi = lay.t_offsets[t], lay.t_offsets[t + 1]
        m_lv, r = Binv.shape[0], Binv.shape[1]
        xv = x_v[lo:hi].reshape(m_lv, r, -1)
        m = xv - np.einsum("mab,mbd->mad", Binv, e_v[lo:hi].reshape(m_lv, r, -1))
        acc[k] += _squared_b(factors[k], m)


def _squared_b(T: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Σ_d (T m_d)² per level and column, for m of shape (levels, r, draws)."""
    return (np.einsum("ac,mcd->mad", T, m) ** 2).sum(axis=2)


def _batch_size(H: Hessian, n_draws: int) -> int:
    """Draws solved together: one pass over the data serves them all. A gathered row of a
    crossed factor's vector brings one cache line, 8 columns, so wider batches only add
    traffic; the PCG vectors (about six N × D blocks), per-row buffers and row noise also
    bound the batch to ~2 GB. Batches are balanced (10 draws: 5 + 5, not 8 + 2)."""
    lay = H.problem.layout
    n_ch = len(H.problem.cg_chunks) - 1
    per_column = 8 * (6 * H.N + n_ch * lay.P + 4 * lay.n)
    width = int(np.clip(_BATCH_BYTES // per_column, 1, _BATCH_MAX))
    n_batches = -(-n_draws // width)
    return -(-n_draws // n_batches)


def _perturbation(problem: Problem, st: State, H: Hessian, rng, D: int) -> np.ndarray:
    """D columns ε ~ N(0, H): Σ_i J_iᵀ R_i z_i from the rows plus the prior precision's root."""
    lay = problem.layout
    eps = rng.standard_normal((H.N, D))
    e_gam, e_u1, e_v = H.split(eps)
    e_gam *= np.sqrt(problem.prior_prec)[:, None]
    w = H.work(D)
    rows_u1 = np.empty((lay.m1, lay.r1, D))
    z = rng.standard_normal((lay.n, (2 if lay.n_alpha else 1) * D))
    hessian_kernels.noise_pass(problem.cg_chunks, lay.level_ptr, lay.y, lay.Xf, lay.A1, lay.Ad,
                       lay.dcol, lay.pos_d, lay.n_alpha, st.hrow, z, rows_u1, w["g"],
                       w["rows"])
    del z
    e_gam += w["g"].sum(axis=0)
    e_u1 += rows_u1
    e_v += iterative_sums(lay, w["rows"])
    return eps
