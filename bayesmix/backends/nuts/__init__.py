"""The nuts backend: full Bayes with PyMC's model and nutpie's (or PyMC's) NUTS sampler.

``bayesmix.fit(formula, data, backend="nuts", draws=1000, tune=1000, chains=4, seed=1)``
builds a pm.Model from the ModelSpec (:mod:`.model`), compiles it once per spec
(:mod:`.sample`), samples, converts the draws to the shared names (:mod:`.draws`) and checks
convergence (:mod:`.diagnostics`). Options: :class:`NutsOptions`.

Priors: every prior must be proper, except flat priors on fixed effects (the likelihood
identifies them in practice, as in brms). Flat priors on SDs, σ, correlations or cutpoints
give an improper posterior that MCMC cannot sample reliably; the laplace and map backends take
them.
"""

from __future__ import annotations

from ...spec import Prior
from ..registry import Backend
from .fit import fit_nuts
from .options import NutsOptions

__all__ = ["BACKEND", "NutsOptions", "honours"]


def honours(kind: str, prior: Prior) -> bool:
    """Whether the nuts backend can use ``prior`` on a parameter of this kind."""
    if prior.is_flat:
        return kind in ("fixed", "intercept", "zi")
    return True


BACKEND = Backend(
    name="nuts",
    options=NutsOptions,
    run=fit_nuts,
    honours=honours,
    default_priors="default",
    description="full Bayes: a PyMC model sampled with NUTS (nutpie by default)",
)
