"""The latent Gaussian field x = (β, u) of a design: frozen inputs and the one mutable state.

Given the covariance parameters θ (lme4's relative covariance factor, b = Λ_θ u), the field has
u ~ N(0, I) (times σ² for the Gaussian family) and β either held fixed (glmer's nAGQ = 1, where
β is an outer parameter) or in the field with a Gaussian prior N(μ₀, diag(1/prec)) (prec = 0:
flat), as the MAP backend, glmer's nAGQ = 0 and the Bayesian Laplace. Following
MixedModels.jl, one evaluation is ``mode(set_theta(state, θ))``: :func:`set_theta` recomputes
ZΛ_θ on the design's fixed pattern and the mode refreshes the numeric factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..design import Design
from ..families import kernels as fk
from ..linalg import Factor, ZStructure, analyze, z_structure

__all__ = ["LatentField", "FieldState", "latent_field", "new_state", "set_theta",
           "set_zero_inflation"]


@dataclass(frozen=True, eq=False)
class LatentField:
    """Everything a conditional-mode computation reads and never changes.

    Attributes
    ----------
    design : Design
    y, X : ndarray
    offset : ndarray (n,)
        Zeros when the model has no offset.
    weights, trials : ndarray (n,) or None
        Prior weights; binomial trials.
    structure : ZStructure
        Pattern of ZΛ_θ and the term blocks.
    factorization : str
        Sparse Cholesky method passed to :func:`bayesmix.linalg.analyze`.
    family, link : int
        Codes of :mod:`bayesmix.families.kernels`.
    const : ndarray (n,)
        The rows' log-likelihood constants c_i (:func:`~bayesmix.families.kernels.row_constants`).
    n_cut : int
        Ordinal thresholds (0 for the other families).
    log_jacobian : float
        Σ log |dz/dy| when the field models z = log y (the lognormal family, fitted as the
        Gaussian family on log y); 0 otherwise.
    X_zi : ndarray (n, m) or None
        The zero-inflation model matrix of a zero-inflated family (ζ = X_zi γ).

    The lognormal family enters as the Gaussian family on y = log(response): every
    Gaussian computation applies, and the Jacobian completes its log-likelihood.
    """

    design: Design
    y: np.ndarray
    X: np.ndarray
    offset: np.ndarray
    weights: np.ndarray | None
    trials: np.ndarray | None
    structure: ZStructure
    factorization: str
    family: int
    link: int
    const: np.ndarray
    n_cut: int
    log_jacobian: float = 0.0
    X_zi: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def q(self) -> int:
        return self.structure.q

    @property
    def blocks(self) -> tuple[tuple[int, int, int], ...]:
        return self.structure.blocks

    @property
    def log_weights_sum(self) -> float:
        """Σ log w_i (lme4's ldW; 0 without prior weights) plus 2 × :attr:`log_jacobian`:
        what the Gaussian deviance subtracts."""
        ldw = 0.0 if self.weights is None else float(np.sum(np.log(self.weights)))
        return ldw + 2.0 * self.log_jacobian

    @property
    def const_total(self) -> float:
        """Σ w_i c_i: what the kernels' f leaves out of −log p(y | x)."""
        return float(np.sum(self.const if self.weights is None else self.weights * self.const))

    @property
    def zero_inflated(self) -> bool:
        return self.X_zi is not None

    def kernel_arrays(self, zeta: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(per-row value, weights) as the numba kernels take them (empty: 1 for every row):
        the trials, or for a zero-inflated family ζ, its zero-inflation log-odds."""
        empty = np.zeros(0)
        if self.zero_inflated:
            if zeta is None:
                raise ValueError("a zero-inflated field needs ζ (FieldState.zeta)")
            first = zeta
        else:
            first = empty if self.trials is None else self.trials
        return first, empty if self.weights is None else self.weights


def latent_field(design: Design, factorization: str = "auto") -> LatentField:
    """Collect a design's arrays for the latent-field computations."""
    offset = design.offset if design.offset is not None else np.zeros(design.n)
    family, link = fk.codes(design.family)
    y = np.asarray(design.y, dtype=float)
    log_jacobian = 0.0
    if family == fk.LOGNORMAL:
        y = np.log(y)
        log_jacobian = -float(np.sum(y))
        family = fk.GAUSSIAN
    trials = None if design.trials is None else np.asarray(design.trials, dtype=float)
    n_cut = len(design.response_levels) - 1 if design.family.name == "ordinal" else 0
    return LatentField(
        design=design, y=y, X=np.ascontiguousarray(design.X, dtype=float),
        offset=np.asarray(offset, dtype=float),
        weights=None if design.weights is None else np.asarray(design.weights, dtype=float),
        trials=trials, structure=z_structure(design), factorization=factorization,
        family=family, link=link, const=fk.row_constants(family, y, trials), n_cut=n_cut,
        log_jacobian=log_jacobian,
        X_zi=None if design.X_zi is None else np.ascontiguousarray(design.X_zi, dtype=float),
    )


@dataclass(eq=False)
class FieldState:
    """Mutable state: θ, ZΛ_θ, the numeric factor, and the current point of the field.

    Attributes
    ----------
    field : LatentField
    factor : Factor
        Symbolic analysis done once; numerically refreshed by every mode computation.
    theta : ndarray
    zl : scipy.sparse.csr_matrix
        ZΛ_θ.
    u : ndarray (q,)
        Current spherical random effects (the warm start of the next mode).
    beta : ndarray (p,)
        Current fixed effects.
    family_params : ndarray
        The row kernel's parameter vector, held fixed by the mode computations: the
        ordinal thresholds, or the family's parameters (φ; σ and ν for Student-t).
    evaluations : int
        Mode computations so far.
    zi_coef, zeta : ndarray or None
        A zero-inflated family's coefficients γ and the rows' log-odds ζ = X_zi γ, held
        fixed by the mode computations (:func:`set_zero_inflation`).
    """

    field: LatentField
    factor: Factor
    theta: np.ndarray
    zl: sp.csr_matrix
    u: np.ndarray
    beta: np.ndarray
    family_params: np.ndarray
    evaluations: int = 0
    zi_coef: np.ndarray | None = None
    zeta: np.ndarray | None = None

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The field's kernel arrays at this state's ζ."""
        return self.field.kernel_arrays(self.zeta)


def new_state(field: LatentField, theta: np.ndarray | None = None) -> FieldState:
    """A fresh state at θ (lme4's starting value by default), u = 0, β = 0."""
    design = field.design
    theta = design.theta_init if theta is None else np.asarray(theta, dtype=float)
    factor = analyze(field.structure, method=field.factorization)
    state = FieldState(field, factor, theta.copy(), design.Z_Lambda(theta),
                       np.zeros(field.q), np.zeros(field.p),
                       np.ones(field.n_cut or len(field.design.family.kernel_parameters)))
    if field.zero_inflated:
        set_zero_inflation(state, np.zeros(field.X_zi.shape[1]))
    return state


def set_zero_inflation(state: FieldState, gamma: np.ndarray) -> FieldState:
    """Move a zero-inflated state to the coefficients γ (ζ = X_zi γ)."""
    gamma = np.asarray(gamma, dtype=float)
    state.zi_coef = gamma.copy()
    state.zeta = np.ascontiguousarray(state.field.X_zi @ gamma)
    return state


def set_theta(state: FieldState, theta: np.ndarray) -> FieldState:
    """Move the state to θ: recompute ZΛ_θ (the factor is refreshed by the next mode)."""
    theta = np.asarray(theta, dtype=float)
    state.theta = theta.copy()
    state.zl = state.field.design.Z_Lambda(theta)
    return state
