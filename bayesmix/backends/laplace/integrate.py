"""Integration over the hyperparameters: weighted points of p(φ | y) ∝ exp L(φ).

All strategies work in the standardized coordinates of the Hessian at the mode,
φ = φ̂ + S z with S Sᵀ = H⁻¹ (H the Hessian of −L at φ̂), and return weighted points; the
caller's ``on_point`` runs right after each point is evaluated, while the state (the factor)
is there, so draws of the latent field need no second factorization.

- ``grid`` (R-INLA's grid strategy): steps of ``dz`` along each axis until L has dropped by
  ``drop`` from the mode, then the tensor grid of those ranges; weights ∝ exp L (equal cells).
  For d ≤ 2.
- ``importance``: randomized quasi-Monte Carlo (scrambled Sobol) from a multivariate Student-t
  (ν = 5) in z, weights exp(L − log q) smoothed by Pareto-smoothed importance sampling; the
  Pareto k̂ says whether they can be trusted (k̂ > 0.7: no) and more points are added while
  k̂ > 0.5 or the weights' effective sample size is small.
- ``nuts``: NUTS over φ on L and its gradient (nutpie): exact in φ up to Monte Carlo error,
  equal weights (Stan's embedded Laplace).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special, stats

__all__ = ["Points", "standardize", "grid", "importance", "nuts"]


@dataclass
class Points:
    """Weighted points of p(φ | y): ``phi`` (N, d), ``log_density`` L there,
    ``log_weights`` normalised (log Σ exp = 0), the strategy and its diagnostics."""

    phi: np.ndarray
    log_density: np.ndarray
    log_weights: np.ndarray
    method: str
    diagnostics: dict = field(default_factory=dict)

    @property
    def ess(self) -> float:
        w = np.exp(self.log_weights)
        return float(1.0 / np.sum(w * w))


def standardize(H: np.ndarray) -> np.ndarray:
    """S with S Sᵀ = H⁻¹ through the eigenvectors of H (the scaled principal axes)."""
    vals, vecs = np.linalg.eigh(0.5 * (H + H.T))
    return vecs / np.sqrt(vals)


def _normalise(log_w: np.ndarray) -> np.ndarray:
    return log_w - special.logsumexp(log_w)


def grid(marginal: Callable, on_point: Callable, phi_hat: np.ndarray, S: np.ndarray,
         dz: float = 0.75, drop: float = 6.0, max_steps: int = 12) -> Points:
    """R-INLA's grid in z (d ≤ 2 in practice: the points grow as (2·steps + 1)^d)."""
    d = len(phi_hat)
    top = marginal(phi_hat)
    ranges = []
    for j in range(d):
        reach = []
        for sign in (-1, 1):
            k = 0
            while k < max_steps:
                z = np.zeros(d)
                z[j] = sign * (k + 1) * dz
                if top - marginal(phi_hat + S @ z) > drop:
                    break
                k += 1
            reach.append(k)
        ranges.append(np.arange(-reach[0], reach[1] + 1) * dz)
    mesh = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, d)
    phis, values = [], []
    for z in mesh:
        phi = phi_hat + S @ z
        value = marginal(phi)
        if top - value > drop:
            continue
        on_point(len(phis))
        phis.append(phi)
        values.append(value)
    values = np.array(values)
    log_w = _normalise(values)
    return Points(np.array(phis), values, log_w, "grid",
                  {"points": len(values), "dz": dz, "drop": drop,
                   "steps": [len(r) for r in ranges]})


def _mvt_logpdf(z: np.ndarray, nu: float) -> np.ndarray:
    d = z.shape[1]
    return (special.gammaln((nu + d) / 2) - special.gammaln(nu / 2) - 0.5 * d * np.log(nu * np.pi)
            - 0.5 * (nu + d) * np.log1p(np.sum(z * z, axis=1) / nu))


def importance(marginal: Callable, on_point: Callable, phi_hat: np.ndarray, S: np.ndarray,
               n: int, seed, nu: float = 5.0, max_points: int | None = None) -> Points:
    """Quasi-Monte Carlo importance sampling from a Student-t(ν) at the mode, PSIS-smoothed;
    ``n`` points (a power of 2), doubled up to ``max_points`` while k̂ > 0.5 or the
    effective sample size of the weights is below n/4."""
    import arviz as az

    d = len(phi_hat)
    sobol = stats.qmc.Sobol(d + 1, scramble=True, seed=seed)
    max_points = max_points or n
    phis, values, log_q = [], [], []
    total = n
    while True:
        u = sobol.random(total - len(phis))
        u = np.clip(u, 1e-12, 1 - 1e-12)
        z = special.ndtri(u[:, :d]) * np.sqrt(nu / stats.chi2.ppf(u[:, d], nu))[:, None]
        for zi, lq in zip(z, _mvt_logpdf(z, nu)):
            phi = phi_hat + S @ zi
            value = marginal(phi)
            on_point(len(phis))
            phis.append(phi)
            values.append(value)
            log_q.append(lq)
        raw = np.array(values) - np.array(log_q)
        with np.errstate(all="ignore"):
            smoothed, khat = az.psislw(raw - np.max(raw))
        log_w = _normalise(np.asarray(smoothed))
        ess = float(1.0 / np.sum(np.exp(2 * log_w)))
        if (khat <= 0.5 and ess >= total / 4) or 2 * total > max_points:
            break
        total *= 2
    return Points(np.array(phis), np.array(values), log_w, "importance",
                  {"points": len(values), "pareto_khat": float(khat), "ess": ess,
                   "proposal": f"Student-t({nu:g}) at the mode, scaled by the inverse Hessian"})


def nuts(marginal: Callable, gradient: Callable, on_point: Callable, phi_hat: np.ndarray,
         S: np.ndarray, draws: int, chains: int, tune: int, seed) -> Points:
    """NUTS over z (φ = φ̂ + S z) with nutpie, then the draws evaluated once more, in order, so
    that ``on_point`` sees each of them."""
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    d = len(phi_hat)
    lock = threading.Lock()

    def make_logp():
        def logp(z):
            with lock:
                phi = phi_hat + S @ z
                value = marginal(phi)
                if not np.isfinite(value):
                    return -np.inf, np.zeros(d)
                return float(value), S.T @ gradient(phi)

        return logp

    def make_expand(seed1, seed2, chain):
        def expand(z):
            return {"z": np.asarray(z, dtype=np.float64)}

        return expand

    model = from_pyfunc(ndim=d, make_logp_fn=make_logp, make_expand_fn=make_expand,
                        expanded_dtypes=[np.dtype("float64")], expanded_shapes=[(d,)],
                        expanded_names=["z"],
                        make_initial_point_fn=lambda s: np.random.default_rng(s).normal(
                            scale=0.3, size=d))
    trace = nutpie.sample(model, draws=draws, tune=tune, chains=chains, cores=1, seed=seed,
                          progress_bar=False)
    z = np.asarray(trace.posterior["z"].values).reshape(-1, d)
    divergent = int(np.sum(trace.sample_stats["diverging"].values))
    phis = phi_hat + z @ S.T
    values = []
    for k, phi in enumerate(phis):
        values.append(marginal(phi))
        on_point(k)
    from bayesmix.backends.nuts.diagnostics import rhat

    return Points(phis, np.array(values), np.full(len(phis), -np.log(len(phis))), "nuts",
                  {"points": len(phis), "divergences": divergent,
                   "max_rhat": float(np.nanmax(rhat(z.reshape(chains, draws, d))))
                   if chains > 1 else None})
