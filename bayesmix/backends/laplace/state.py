"""The frozen inputs of a Laplace fit and the one object that holds the solver's state.

Following MixedModels.jl, an evaluation of the objective is ``objective(update(set_theta(
state, θ)))``: :func:`set_theta` recomputes ZΛ_θ on the design's fixed pattern, the numeric
factorization is refreshed by the PLS / PIRLS step, and the objective reads the result. The
state is the only mutable thing in the backend; the problem (data, design, symbolic analysis)
never changes after :func:`laplace_problem` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ...design import Design
from ...linalg import Factor, ZStructure, analyze, z_structure

__all__ = ["LaplaceProblem", "SolverState", "laplace_problem", "new_state", "set_theta"]


@dataclass(frozen=True, eq=False)
class LaplaceProblem:
    """Everything a Laplace fit reads and never changes.

    Attributes
    ----------
    design : Design
    y, X : ndarray
    offset : ndarray (n,)
        Zeros when the model has no offset.
    weights : ndarray (n,) or None
        Prior weights.
    trials : ndarray (n,) or None
        Binomial trials.
    structure : ZStructure
        Pattern of ZΛ_θ and the term blocks.
    factorization : str
        Sparse Cholesky method passed to :func:`bayesmix.linalg.analyze`.
    """

    design: Design
    y: np.ndarray
    X: np.ndarray
    offset: np.ndarray
    weights: np.ndarray | None
    trials: np.ndarray | None
    structure: ZStructure
    factorization: str

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
        """Σ log w_i (lme4's ldW), 0 without prior weights."""
        return 0.0 if self.weights is None else float(np.sum(np.log(self.weights)))


def laplace_problem(design: Design, factorization: str = "auto") -> LaplaceProblem:
    """Collect a design's arrays for the Laplace backend."""
    offset = design.offset if design.offset is not None else np.zeros(design.n)
    return LaplaceProblem(
        design=design,
        y=np.asarray(design.y, dtype=float),
        X=np.ascontiguousarray(design.X, dtype=float),
        offset=np.asarray(offset, dtype=float),
        weights=None if design.weights is None else np.asarray(design.weights, dtype=float),
        trials=None if design.trials is None else np.asarray(design.trials, dtype=float),
        structure=z_structure(design),
        factorization=factorization,
    )


@dataclass(eq=False)
class SolverState:
    """Mutable state of the solver: θ, ZΛ_θ, the numeric factor, and the current modes.

    Attributes
    ----------
    problem : LaplaceProblem
    factor : Factor
        Symbolic analysis done once; numerically refreshed by every PLS / PIRLS step.
    theta : ndarray
    zl : scipy.sparse.csr_matrix
        ZΛ_θ.
    u : ndarray (q,)
        Current spherical random effects (warm start of PIRLS).
    beta : ndarray (p,)
        Current fixed effects.
    evaluations : int
        Objective evaluations so far.
    """

    problem: LaplaceProblem
    factor: Factor
    theta: np.ndarray
    zl: sp.csr_matrix
    u: np.ndarray
    beta: np.ndarray
    evaluations: int = 0
    history: list = field(default_factory=list)


def new_state(problem: LaplaceProblem, theta: np.ndarray | None = None) -> SolverState:
    """A fresh state at θ (lme4's starting value by default), u = 0, β = 0."""
    design = problem.design
    theta = design.theta_init if theta is None else np.asarray(theta, dtype=float)
    factor = analyze(problem.structure, method=problem.factorization)
    return SolverState(problem, factor, theta.copy(), design.Z_Lambda(theta),
                       np.zeros(problem.q), np.zeros(problem.p))


def set_theta(state: SolverState, theta: np.ndarray) -> SolverState:
    """Move the state to θ: recompute ZΛ_θ (the factor is refreshed by the next solve)."""
    theta = np.asarray(theta, dtype=float)
    state.theta = theta.copy()
    state.zl = state.problem.design.Z_Lambda(theta)
    return state
