"""Adaptive Gauss–Hermite quadrature of the marginal likelihood (glmer's and clmm's nAGQ > 1).

With one scalar random term, u's levels are independent given (θ, β, α): the likelihood is a
product of one-dimensional integrals, each centred at the conditional mode û_j and scaled by
the curvature there, h_j = 1 + Σ_{i∈j} w_i (ZΛ)_i² (the factor's diagonal):

    ∫ p(y_j | u) φ(u) du = h_j^{-1/2} ∫ e^{G_j(z)} dz ≈ h_j^{-1/2} Σ_k ω_k e^{z_k²/2} G_j(z_k),

G_j(z) = log p(y_j | û_j + z/√h_j) + log φ(û_j + z/√h_j), with the probabilists'
Gauss–Hermite nodes z_k and weights ω_k (Σ ω_k = √(2π)). One node is the Laplace
approximation. The rows' log densities come from the families' row kernel.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

from ...latent._row_pass import row_f

__all__ = ["Quadrature"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class Quadrature:
    """The k-node rule for a design with one scalar random term."""

    def __init__(self, k: int):
        self.nodes, weights = hermegauss(k)
        self.log_weights = np.log(weights) + 0.5 * self.nodes**2

    def loglik(self, state, mode) -> float:
        """log p(y | θ, β, α) by the rule, at the conditional mode ``mode`` (the state's θ)."""
        f = state.field
        zl = state.zl
        a = np.asarray(zl.data, dtype=float)
        level = np.asarray(zl.indices)
        m = f.q
        h = 1.0 + np.bincount(level, weights=mode.w * a * a, minlength=m)
        s = 1.0 / np.sqrt(h)
        trials, pw = state.kernel_arrays()
        G = np.empty((m, len(self.nodes)))
        rows = np.empty(f.n)
        for k, z in enumerate(self.nodes):
            shift = z * s
            eta = mode.eta + a * shift[level]
            row_f(f.family, f.link, f.y, trials, pw, state.family_params, eta, rows)
            u = mode.u + shift
            G[:, k] = -np.bincount(level, weights=rows, minlength=m) - 0.5 * u * u
        per_level = logsumexp(G + self.log_weights, axis=1) - 0.5 * np.log(h) - _LOG_SQRT_2PI
        return float(per_level.sum()) + f.const_total
