"""Average-information approximations of the Hessians of the Laplace objectives.

The Newton optimizer (:func:`.optimize.minimize_newton`) needs a curvature matrix that is
cheap next to one factorization. For the marginal model y ~ N(Xβ, V), V = σ²(W⁻¹ + MMᵀ),
M = ZΛ_θ, the "average information" of Gilmour, Thompson & Cullis (1995) (the mean of the
observed and the expected information) of −2ℓ in the covariance parameters is

    AI_tl = a_tᵀ V₀⁻¹ a_l / σ²,    a_t = (∂V₀/∂θ_t) s,    s = V₀⁻¹(y − Xβ̂) = W r,

with r the residuals at the mode. Because ΛᵀZᵀW r = û there, a_t = M_t û + M (M_tᵀ s)
(M_t = ∂M/∂θ_t): two passes over the rows and, for V₀⁻¹ a_t = W(a_t − M A⁻¹MᵀW a_t), a few
solves with the factor that the objective has just computed. The expensive part of the exact
Hessian (traces of products of A⁻¹ with the derivatives of A) is what the average drops.

- Gaussian family (:func:`lmm_information`): σ² is profiled out, which subtracts the
  rank-one term (sᵀa)(sᵀa)ᵀ/(νσ⁴) (ν = n, or n − p for REML, where V₀⁻¹ becomes the REML
  projection P₀).
- Other families (:func:`glmm_information`), over (θ, β) for nAGQ = 1: the same matrix for the
  working model at the PIRLS mode (W the working weights, s the scores, σ = 1), with the
  β block 2XᵀV₀⁻¹X and the cross block √2 XᵀV₀⁻¹a_t (the Gram matrix of [a, √2X] in the
  V₀⁻¹ metric: positive semi-definite, and the β block exact). It ignores how W moves with the
  mode, so the Newton iteration converges linearly; the optimizer adds a secant correction.

"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from ...latent import FieldState
from . import _gradient_kernels as gk
from .gradient import ThetaMaps

__all__ = ["theta_directions", "lmm_information", "glmm_information", "boundary_curvature"]


def theta_directions(state: FieldState, maps: ThetaMaps, s: np.ndarray,
                     u: np.ndarray) -> np.ndarray:
    """a_t = M_t u + M (M_tᵀ s) for every θ_t: shape (n, n_theta)."""
    field = state.field
    cols, width = field.structure.indices, field.structure.width
    h = gk.dm_transpose(cols, width, maps.dm, maps.entry, s, field.q)
    A = np.ascontiguousarray(state.zl @ h)
    gk.dm_times(cols, width, maps.dm, maps.entry, u, A)
    return A


def _gram(state: FieldState, w: np.ndarray | None, A: np.ndarray, with_x: bool = False,
          RX: np.ndarray | None = None, RZX: np.ndarray | None = None) -> np.ndarray:
    """BᵀV₀⁻¹B = BᵀWB − ‖L⁻¹PMᵀWB‖² (Woodbury) for B = A, or [A, √2 X] when ``with_x``;
    BᵀP₀B when R_X, R_ZX are given (β profiled: minus ‖R_X⁻ᵀ(XᵀWB − R_ZXᵀL⁻¹PMᵀWB)‖²).
    A few passes over the rows and one half-solve with the state's factor."""
    field = state.field
    wv = np.zeros(0) if w is None else w
    st = field.structure
    blocks = [A, np.sqrt(2.0) * field.X] if with_x and field.p else [A]
    C = np.hstack([gk.weighted_cross(state.zl.data, st.indices, st.width, wv,
                                     np.ascontiguousarray(b), field.q) for b in blocks])
    WB = [b if w is None else b * w[:, None] for b in blocks]
    G = np.block([[wb.T @ b for b in blocks] for wb in WB])
    Y = state.factor.solve_L(C)
    H = G - Y.T @ Y
    if RX is not None:
        XtWA = (field.X.T if w is None else field.X.T * w) @ A
        Zb = solve_triangular(RX, XtWA - RZX.T @ Y, trans="T")
        H -= Zb.T @ Zb
    return 0.5 * (H + H.T)


def lmm_information(state: FieldState, sol, reml: bool, maps: ThetaMaps) -> np.ndarray:
    """Average information of the profiled deviance (ML) or REML criterion over θ at a PLS
    solution whose factor is the state's current one."""
    field = state.field
    resid = field.y - field.offset - state.zl @ sol.u
    if field.p:
        resid -= field.X @ sol.beta
    s = resid if field.weights is None else field.weights * resid
    A = theta_directions(state, maps, s, sol.u)
    profiled = reml and field.p
    APA = _gram(state, field.weights, A, RX=sol.RX if profiled else None,
                RZX=sol.RZX if profiled else None)
    nu = field.n - field.p if reml else field.n
    sigma2 = sol.pwrss / nu
    sa = s @ A
    return APA / sigma2 - np.outer(sa, sa) / (nu * sigma2**2)


def glmm_information(state: FieldState, res, maps: ThetaMaps) -> np.ndarray:
    """Average information of the Laplace deviance over (θ, β) at a PIRLS mode whose
    weights the state's factor holds."""
    A = theta_directions(state, maps, res.score, res.u)
    return _gram(state, res.w, A, with_x=True)


def boundary_curvature(theta: np.ndarray, diagonal: np.ndarray, g: np.ndarray,
                       H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The average information corrected where a diagonal entry of some T_k nears 0.

    The objective is even in such an entry θ_t (the sign of a column of T_k), so near 0 it is
    f₀ + cθ_t² and its curvature 2c = g_t/θ_t, while the average information of θ_t vanishes
    like θ_t² (a_t → 0 with the column it scales): a Newton step on it alone would be huge.
    Adding max(g_t/θ_t, 0) to H_tt is the exact second-order term of the chain rule through
    ψ = θ_t² (H_θ = 4θ²H_ψ + 2∂f/∂ψ) where it adds curvature, and 0 at an interior optimum.
    An entry exactly at 0 is a stationary point by symmetry: its step is 0 (it stays on the
    boundary, which the fit then reports as singular).

    Returns corrected copies of ``g`` and ``H`` (over x = (θ, ...), the first len(θ) entries).
    """
    g, H = g.copy(), H.copy()
    for t in np.flatnonzero(diagonal):
        if theta[t] == 0.0:
            g[t] = 0.0
            H[t, :] = 0.0
            H[:, t] = 0.0
            H[t, t] = 1.0
        elif g[t] / theta[t] > 0.0:
            H[t, t] += g[t] / theta[t]
    return g, H
