"""The one Newton iteration for the conditional mode of the latent field.

Whatever the linear algebra behind it (:mod:`.mode`: a sparse Cholesky factor of
ΛᵀZᵀWZΛ + I with β by block elimination; :mod:`.rows`: one fused pass over rows sorted by the
largest grouping factor, with a Schur complement or conjugate gradients), finding the mode of
F(x) = −log p(y | x) − log p(x | covariance) is the same loop:

    δ = −H⁻¹g and the Newton decrement λ² = gᵀH⁻¹g at x; stop when λ² ≤ tol;
    otherwise halve t = 1, ½, ¼, … until F(x + tδ) ≤ F(x) − 10⁻⁴ t λ² (Armijo).

λ² is the squared distance to the mode in the metric of H (standard-error units), so ``tol``
is statistical, independent of the data's size. When λ² stops shrinking at a tiny value the
iteration has reached the rounding floor of F and stops as converged. H is the Hessian for
canonical links and the ordinal family and the Fisher information otherwise (Fisher scoring,
as glmer's PIRLS).

A *system* provides ``evaluate(x) → F`` (moving to x; +inf outside the domain) and
``direction() → (δ, λ²)`` at the last evaluated point; points are flat arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["NewtonSystem", "NewtonResult", "newton"]

_ARMIJO = 1e-4
# A sum over millions of rows is exact to about this relative error: a trial point no worse
# than that is accepted.
_ROUNDING = 1e-12
# λ² below this (relative to 1 + |F|) that shrank by less than 4× in a step is the rounding
# floor of F: converged to the precision of the objective.
_FLOOR = 1e-10


class NewtonSystem(Protocol):
    def evaluate(self, x: np.ndarray) -> float: ...

    def direction(self) -> tuple[np.ndarray, float]: ...


@dataclass(frozen=True)
class NewtonResult:
    """Outcome of :func:`newton`.

    Attributes
    ----------
    x : ndarray
        The last accepted point (the one the system was evaluated at last).
    F : float
    converged : bool
    iterations : int
        Newton steps taken.
    evaluations : int
        Objective evaluations (passes over the data).
    halvings : int
    decrement : float
        λ² at the last point.
    message : str
        Why it stopped when it did not converge ("" otherwise).
    """

    x: np.ndarray
    F: float
    converged: bool
    iterations: int
    evaluations: int
    halvings: int
    decrement: float
    message: str


def newton(system: NewtonSystem, x0: np.ndarray, *, tol: float, max_iter: int,
           max_halvings: int = 30, rel_tol: float = 0.0) -> NewtonResult:
    """Damped Newton from ``x0``; the system ends at the returned point with its factors.

    Converged when λ² ≤ ``tol``, or λ² ≤ ``rel_tol`` (1 + |F|), or at the rounding floor."""
    x = np.asarray(x0, dtype=float)
    F = float(system.evaluate(x))
    evaluations, halvings = 1, 0
    if not np.isfinite(F):
        return NewtonResult(x, F, False, 0, evaluations, 0, np.inf,
                            "the objective is not finite at the starting point")
    decrement, last = np.inf, np.inf
    message, converged = f"no convergence in {max_iter} Newton iterations", False
    steps = 0
    for _ in range(max_iter + 1):
        step, decrement = system.direction()
        scale = 1.0 + abs(F)
        if decrement <= max(tol, rel_tol * scale) or (decrement < _FLOOR * scale
                                                      and decrement > 0.25 * last):
            message, converged = "", True
            break
        if not np.isfinite(decrement) or decrement < 0.0:
            message = "the Newton direction is not a descent direction"
            break
        if steps == max_iter:
            break
        last = decrement
        t = 1.0
        for _ in range(max_halvings + 1):
            F_new = float(system.evaluate(x + t * step))
            evaluations += 1
            if np.isfinite(F_new) and F_new <= F - _ARMIJO * t * decrement + _ROUNDING * scale:
                break
            t *= 0.5
            halvings += 1
        else:
            system.evaluate(x)
            evaluations += 1
            converged = decrement < _FLOOR * scale
            message = ("" if converged else
                       f"no decrease along the Newton direction (decrement {decrement:.3g})")
            break
        x = x + t * step
        F = F_new
        steps += 1
    return NewtonResult(x, F, converged, steps, evaluations, halvings, float(decrement),
                        message)
