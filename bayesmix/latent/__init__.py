"""The latent-Gaussian engine: the conditional mode of the field x = (β, u) at a fixed
covariance, and the Gaussian around it. ``laplace`` optimizes / integrates over the covariance
parameters around it; ``map`` fixes them and calls it once.

- :mod:`.field` — frozen inputs (:class:`LatentField`) and the one mutable state;
- :mod:`.newton` — the one Newton loop with step halving;
- :mod:`.pls` — the exact mode for the Gaussian family (penalized least squares);
- :mod:`.mode` — the mode for the other families on the sparse factor (PIRLS), β held fixed
  or in the field with a Gaussian or flat prior;
- :mod:`.gaussian` — Cov(β), conditional SDs of b and draws through the factor;
- :mod:`.rows` — the same mode and Gaussian by one fused, parallel pass over rows sorted by
  the largest grouping factor (Schur complement, or conjugate gradients for large crossed
  factors): the MAP backend's system at 10⁷ rows.

The family maths is :mod:`bayesmix.families.kernels`; the linear algebra :mod:`bayesmix.linalg`.
"""

from .field import (FieldState, LatentField, latent_field, new_state, set_theta,
                    set_zero_inflation)
from .mode import Mode, conditional_mode
from .newton import NewtonResult, newton
from .pls import BetaPrior, PLSSolution, solve_pls

__all__ = ["LatentField", "FieldState", "latent_field", "new_state", "set_theta",
           "set_zero_inflation", "Mode",
           "conditional_mode", "newton", "NewtonResult", "BetaPrior", "PLSSolution",
           "solve_pls"]
