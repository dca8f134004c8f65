"""Analytic gradient of the Laplace deviance F(θ, β) for canonical links (logit, Poisson log).

F = Φ(û) + log|A|, Φ(u) = −2ℓ(y | η(u)) + ‖u‖², A = MᵀWM + I, M = ZΛ_θ, û the mode of Φ.
With sᵢ = ∂ℓ/∂ηᵢ (the PIRLS score), W the weights at û (for canonical links ∂s/∂η = −W),
w' = dW/dη, hᵢ = mᵢᵀA⁻¹mᵢ and v = h ⊙ w':

- Φ: envelope theorem, ∂Φ/∂β = −2Xᵀs, ∂Φ/∂θ_t = −2sᵀa_t with a_t = (∂M/∂θ_t) û;
- log|A|: tr(A⁻¹ dA) = 2 Σᵢ wᵢ (∂mᵢ/∂θ_t)ᵀA⁻¹mᵢ + vᵀ dη/dψ, where the mode moves with
  A dû/dψ = (∂M/∂ψ)ᵀs − MᵀW ∂η/∂ψ, so vᵀM dû/dψ = zᵀ(…) with one solve z = A⁻¹Mᵀv.

Collecting terms with c = −2s + v − W(Mz):

    ∂F/∂β   = Xᵀc
    ∂F/∂θ_t = cᵀa_t + sᵀ(∂M/∂θ_t) z + 2 Σᵢ wᵢ (∂mᵢ/∂θ_t)ᵀA⁻¹mᵢ.

The per-row blocks of A⁻¹ come from :meth:`bayesmix.linalg.Factor.row_inverse`. The cost of
a gradient is two passes over the rows and one solve, about one PIRLS step. Checked against
finite differences in tests/test_laplace_gradient.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ...families import kernels as fk
from ...latent import FieldState
from ...latent.mode import Mode
from . import _gradient_kernels as gk

__all__ = ["ThetaMaps", "theta_maps", "laplace_gradient", "lmm_gradient",
           "pls_gradient_parts"]

# Smallest |diagonal of T_k| (relative to its largest entry) for the block formula of
# ∂log|A|/∂θ; below it the per-row blocks of A⁻¹ are used (no cancellation).
_BLOCK_FORMULA_MIN = 1e-3


@dataclass(frozen=True, eq=False)
class ThetaMaps:
    """How θ enters ZΛ: θ_t changes row entry ``entry[t]`` by ``dm[:, t]`` per unit."""

    entry: np.ndarray
    dm: np.ndarray


def theta_maps(design) -> ThetaMaps:
    """∂(ZΛ)/∂θ per row: entry (a, c) of T_k adds X_k[:, a] to column c of the term."""
    entry = np.zeros(design.n_theta, dtype=np.int64)
    dm = np.zeros((design.n, design.n_theta))
    start = 0
    for term in design.terms:
        rows, cols = term.tril()
        for t, a, c in zip(term.theta_index, rows, cols):
            entry[t] = start + c
            dm[:, t] = term.X[:, a]
        start += term.r
    return ThetaMaps(entry, np.ascontiguousarray(dm))


def laplace_gradient(state: FieldState, res: Mode,
                     maps: ThetaMaps) -> tuple[np.ndarray, np.ndarray]:
    """(∂F/∂θ, ∂F/∂β) at the PIRLS mode ``res``; the state's factor must be at the mode."""
    field = state.field
    n, width = field.n, field.structure.width
    w, score = res.w, res.score
    # w' = dW/dη: W = μ for the Poisson log link, nμ(1 − μ) for the logit link.
    wprime = (w if field.family == fk.POISSON
              else w * (1.0 - 2.0 * (0.5 + 0.5 * np.tanh(0.5 * res.eta))))
    data = state.zl.data
    rinv = state.factor.row_inverse()
    v = np.empty(n)
    g_theta = np.zeros(len(maps.entry))
    gk.leverage_pass(data, width, rinv, w, wprime, maps.dm, maps.entry, v, g_theta)
    z = state.factor.solve(state.zl.T @ v)
    c = np.empty(n)
    gk.coefficient_pass(data, field.structure.indices, width, w, score, v, z, res.u, maps.dm,
                        maps.entry, c, g_theta)
    g_beta = field.X.T @ c if field.p else np.zeros(0)
    return g_theta, g_beta


def _logdet_gradient_from_blocks(design, theta, inv_blocks, nt) -> np.ndarray | None:
    """∂log|A|/∂θ from the sums over levels of the diagonal blocks of A⁻¹, or None when some
    T_k is too close to singular for it.

    With ΛᵀZᵀWZΛ = A − I and Q_t = T_k⁻¹ ∂T_k/∂θ_t (block diagonal, the same for every level
    of term k), tr(A⁻¹ ∂A/∂θ_t) = 2 tr(Λ⁻¹Λ_t (I − A⁻¹)) = 2 [m_k tr(Q_t) − tr(Q_t S_k)],
    S_k = Σ_j (A⁻¹)_jj: for a scalar term (2/θ)(m_k − tr_k(A⁻¹)). The diagonal blocks are what
    the conditional SDs need anyway; no per-row blocks of A⁻¹ and no off-diagonal ones.
    """
    grad = np.zeros(nt)
    for term, blocks in zip(design.terms, inv_blocks):
        T = term.T(theta)
        diag = np.abs(np.diag(T))
        # The formula cancels 1 − (A⁻¹)_jj for small T: relative error ~ ε q_k / min diag.
        if np.min(diag) < _BLOCK_FORMULA_MIN * max(1.0, float(np.max(np.abs(T)))):
            return None
        S = blocks.sum(axis=0)
        rows, cols = term.tril()
        for t, a, c in zip(term.theta_index, rows, cols):
            dT = np.zeros((term.r, term.r))
            dT[a, c] = 1.0
            Q = solve_triangular(T, dT, lower=True)
            grad[t] = 2.0 * (term.m * np.trace(Q) - np.sum(S * Q.T))
    return grad


def pls_gradient_parts(state: FieldState, sol, with_rx: bool, maps: ThetaMaps,
                       inv_blocks: list[np.ndarray] | None = None):
    """(∂ldL2/∂θ, ∂r²/∂θ, ∂ldRX2/∂θ) at a PLS solution whose factor the state holds.

    With r the weighted residuals, V = A⁻¹MᵀWX, E = W(X − MV) and C = R_XᵀR_X (the prior
    precision of β included when the solution has one):
    ∂ldL2/∂θ_t = tr(A⁻¹ ∂A/∂θ_t) (:func:`_logdet_gradient_from_blocks`, or
    2 Σᵢ wᵢ (∂mᵢ/∂θ_t)ᵀA⁻¹mᵢ from per-row blocks of A⁻¹ when a T_k is nearly singular);
    ∂r²/∂θ_t = −2 Σᵢ wᵢ rᵢ (∂mᵢ/∂θ_t)ᵀu (envelope: the prior's penalty does not move with θ);
    ∂ldRX2/∂θ_t = tr(C⁻¹ ∂C) = −2 tr(C⁻¹Eᵀ(∂M/∂θ_t)V) (zeros unless ``with_rx``).

    ``inv_blocks`` are the factor's diagonal blocks of A⁻¹ per term (computed when None).
    """
    field = state.field
    design = field.design
    w = np.zeros(0) if field.weights is None else field.weights
    resid = field.y - field.offset - state.zl @ sol.u
    if field.p:
        resid -= field.X @ sol.beta
    nt = len(maps.entry)
    g_ldl, g_pw, g_rx = np.zeros(nt), np.zeros(nt), np.zeros(nt)
    if with_rx and field.p:
        V = np.ascontiguousarray(state.factor.solve_Lt(sol.RZX))
        E = field.X - state.zl @ V
        if field.weights is not None:
            E *= field.weights[:, None]
        Rinv = solve_triangular(sol.RX, np.eye(field.p))
        K = np.ascontiguousarray(E @ (Rinv @ Rinv.T))
    else:
        V, K = np.zeros((field.q, 0)), np.zeros((field.n, 0))
    if inv_blocks is None:
        inv_blocks = state.factor.inverse_diag_blocks(field.blocks)
    from_blocks = _logdet_gradient_from_blocks(design, state.theta, inv_blocks, nt)
    width = field.structure.width
    rinv = (np.zeros((0, width, width)) if from_blocks is not None
            else state.factor.row_inverse())
    gk.lmm_pass(state.zl.data, field.structure.indices, width, rinv, w, resid, sol.u,
                maps.dm, maps.entry, K, V, g_ldl, g_pw, g_rx)
    if from_blocks is not None:
        g_ldl = from_blocks
    return g_ldl, g_pw, g_rx


def lmm_gradient(state: FieldState, sol, reml: bool, maps: ThetaMaps,
                 inv_blocks: list[np.ndarray] | None = None) -> np.ndarray:
    """Gradient over θ of lme4's profiled deviance / REML criterion at a PLS solution: the
    parts of :func:`pls_gradient_parts` combined as the objective adds them, d·∂r²/r² with
    d = n (ML) or n − p (REML), and ∂ldRX2 for REML."""
    field = state.field
    g_ldl, g_pw, g_rx = pls_gradient_parts(state, sol, reml, maps, inv_blocks)
    dof = field.n - field.p if reml else field.n
    grad = g_ldl + dof * g_pw / sol.pwrss
    return grad + g_rx if reml else grad
