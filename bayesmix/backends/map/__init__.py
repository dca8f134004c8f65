"""The ``map`` backend: the joint mode of (cutpoints, β, b) at a fixed covariance.

Diamond's job (Stitch Fix): the covariance of the random effects is known (estimated weekly,
perhaps on a subset, e.g. by the laplace backend) and the coefficients are refitted often.
Exact Newton on the convex negative log posterior, exploiting its structure (see
:mod:`.layout`, :mod:`.kernels`, :mod:`.newton`), with the Gaussian approximation at the mode
for uncertainty (:mod:`.uncertainty`).

Priors: Normal or flat on β and the cutpoints (a flat prior is the default, as lme4). Priors
on SDs, correlations, σ, the family's parameters and the zero-inflation coefficients are
accepted but have no effect — those are held fixed — and the fit says so in its messages.
"""

from __future__ import annotations

from ...spec import Normal, Prior
from ..registry import Backend
from .fit import fit_map
from .options import MapOptions

__all__ = ["BACKEND", "MapOptions", "fit_map"]


def honours(kind: str, prior: Prior) -> bool:
    """Normal or flat priors on β and cutpoints; anything on the fixed covariance, σ, the
    family's fixed parameters and the fixed zero-inflation coefficients."""
    if kind in ("sd", "cor", "sigma", "phi", "nu", "zi"):
        return True
    return prior.is_flat or isinstance(prior, Normal)


BACKEND = Backend(
    name="map",
    options=MapOptions,
    run=fit_map,
    honours=honours,
    default_priors="flat",
    description=(
        "MAP of the fixed and random effects at a known covariance (Newton with a Schur "
        "complement / PCG, numba), Gaussian uncertainty at the mode"
    ),
)
