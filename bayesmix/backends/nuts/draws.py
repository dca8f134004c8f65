"""Draws of the model's free variables → the shared posterior names, in data scale.

β comes back in X's column order (the intercept moved back from the centre of the
predictors), σ and the cutpoints as sampled, and for every term

- ``sd_<label>`` (chain, draw, r) as sampled and, for correlated terms, ``cor_<label>``
  (chain, draw, r, r) = L Lᵀ from the canonical partial correlations;
- ``b_<label>`` (chain, draw, m, r) = z Lᵀ D (or z D), the random effects themselves.

The pointwise log-likelihood of these draws is computed like every backend's, by
:func:`bayesmix.results.loglik.pointwise_loglik`.
"""

from __future__ import annotations

import numpy as np
from ...results import naming
from ...spec import ModelSpec
from ...spec.correlation import cholesky_from_cpc_numpy
from .model import BETA, CUTPOINTS, INTERCEPT, ModelLayout

__all__ = ["posterior_draws"]


def posterior_draws(spec: ModelSpec, layout: ModelLayout,
                    raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Shared posterior variables from the sampler's draws (each (chain, draw, ...))."""
    design = spec.design
    p = len(design.x_names)
    some = next(iter(raw.values()))
    chains, draws = some.shape[:2]
    beta = np.zeros((chains, draws, p))
    slopes = raw[BETA] if len(layout.slope_index) else np.zeros((chains, draws, 0))
    beta[..., layout.slope_index] = slopes
    if layout.centred:
        beta[..., layout.intercept_index] = raw[INTERCEPT] - slopes @ layout.xbar
    out = {naming.BETA: beta}
    for name in layout.family_params:
        out[name] = raw[name]
    for name, value in layout.constants.items():
        out[name] = np.full((chains, draws), value)
    if layout.has_cutpoints:
        out[naming.CUTPOINTS] = raw[CUTPOINTS]
    if layout.zero_inflation:
        out[naming.BETA_ZI] = raw[naming.BETA_ZI]
    for t, tl in zip(design.terms, layout.terms):
        z = raw[tl.effects]
        sd = raw[tl.sd]
        if tl.correlated:
            L = cholesky_from_cpc_numpy(raw[tl.corr], t.r)
            cor = np.einsum("cdik,cdjk->cdij", L, L)
            idx = np.arange(t.r)
            cor[..., idx, idx] = 1.0
            out[naming.cor_var(t.label)] = cor
            b = z if tl.centred else (np.einsum("cdmk,cdjk->cdmj", z, L)
                                      * sd[:, :, None, :])
        else:
            b = z if tl.centred else z * sd[:, :, None, :]
        out[naming.sd_var(t.label)] = sd
        out[naming.b_var(t.label)] = b
    return out
