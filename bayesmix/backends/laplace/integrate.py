"""Integration over the hyperparameters: weighted points of p(φ | y) ∝ exp L(φ).

All strategies work in the standardized coordinates of the Hessian at the mode,
φ = φ̂ + S z with S Sᵀ = H⁻¹ (H the Hessian of −L at φ̂), and return weighted points. For
importance sampling and NUTS, whose weights are known only at the end, the caller's
``on_point`` runs right after each point is evaluated, while the state (the factor) is
there, so draws of the latent field need no second factorization; the grid's weights are
known first, and the caller draws at the points that get draws.

- ``grid`` (R-INLA's grid strategy): along each axis until L has dropped by ``drop`` from
  the mode, then the tensor grid of those ranges, as fine as a budget of points allows;
  weights ∝ exp L (equal cells). For few parameters: the points grow as steps^d.
- ``importance``: draws from a split Student-t (ν = 5) in z — each principal axis scaled on
  either side by how fast L falls there (its drop at ±2, as R-INLA corrects the Gaussian's
  SDs per direction: log SDs of poorly determined terms have a long tail towards 0) —,
  weights exp(L − log q) smoothed by Pareto-smoothed importance sampling (iid draws, so that
  the Pareto k̂ is a valid diagnostic: above :func:`khat_threshold` the weights cannot be
  trusted); in stages, the proposal refitted to the weighted points while k̂ > 0.5.
- ``nuts``: NUTS over φ on L and its gradient (nutpie): exact in φ up to Monte Carlo error,
  equal weights (Stan's embedded Laplace).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special

__all__ = ["Points", "standardize", "grid", "importance", "nuts", "khat_threshold",
           "TooManyPoints"]


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
        """Effective sample size: of the weights, or the NUTS draws' smallest bulk ESS."""
        if "min_ess" in self.diagnostics:
            return float(self.diagnostics["min_ess"])
        w = np.exp(self.log_weights)
        return float(1.0 / np.sum(w * w))


def standardize(H: np.ndarray) -> np.ndarray:
    """S with S Sᵀ = H⁻¹ through the eigenvectors of H (the scaled principal axes)."""
    vals, vecs = np.linalg.eigh(0.5 * (H + H.T))
    return vecs / np.sqrt(vals)


def _normalise(log_w: np.ndarray) -> np.ndarray:
    return log_w - special.logsumexp(log_w)


class TooManyPoints(ValueError):
    """The grid would need more points than allowed."""


# Grid spacings in z, finest first, and how far along an axis the grid may reach (L drops
# by 6 at 3.5 for a Gaussian; skewed axes reach farther).
_GRID_STEPS = (0.25, 0.5, 0.75)
_GRID_REACH = 8.0


def grid(marginal: Callable, phi_hat: np.ndarray, S: np.ndarray, drop: float = 6.0,
         max_points: int = 4096) -> Points:
    """R-INLA's grid in z: along each axis, the reach on either side where L has dropped by
    ``drop`` from the mode; then the tensor grid over those ranges with the finest spacing
    of ``_GRID_STEPS`` that keeps it within ``max_points`` (:class:`TooManyPoints` if none
    does: the points grow as steps^d). Weights ∝ exp L (equal cells); points below the drop
    are left out."""
    d = len(phi_hat)
    top = marginal(phi_hat)
    finest = _GRID_STEPS[0]
    reach = np.zeros((d, 2))
    for j in range(d):
        for side, sign in enumerate((-1, 1)):
            k = 1
            while k * finest < _GRID_REACH:
                z = np.zeros(d)
                z[j] = sign * k * finest
                if top - marginal(phi_hat + S @ z) > drop:
                    break
                k += 1
            reach[j, side] = k * finest
    for dz in _GRID_STEPS:
        ranges = [np.arange(-np.floor(lo / dz), np.floor(hi / dz) + 1) * dz for lo, hi in reach]
        size = int(np.prod([len(r) for r in ranges]))
        if size <= max_points:
            break
    else:
        raise TooManyPoints(size)
    mesh = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, d)
    # Along the main axis, so that each mode warm-starts from a near neighbour's.
    mesh = mesh[np.lexsort(mesh.T[::-1])]
    phis, values = [], []
    for z in mesh:
        phi = phi_hat + S @ z
        value = marginal(phi)
        if not top - value <= drop:
            continue
        phis.append(phi)
        values.append(value)
    values = np.array(values)
    log_w = _normalise(values)
    return Points(np.array(phis), values, log_w, "grid",
                  {"points": len(values), "dz": dz, "drop": drop,
                   "steps": [len(r) for r in ranges]})


_WIDE = 3.0


def _mvt_logpdf(z: np.ndarray, nu: float) -> np.ndarray:
    d = z.shape[1]
    return (special.gammaln((nu + d) / 2) - special.gammaln(nu / 2) - 0.5 * d * np.log(nu * np.pi)
            - 0.5 * (nu + d) * np.log1p(np.sum(z * z, axis=1) / nu))


class _SplitT:
    """Student-t(ν) in φ = centre + S·(w scaled per axis and side), w ~ t_ν(0, I)."""

    def __init__(self, centre, S, scales, nu):
        self.centre, self.S, self.scales, self.nu = centre, S, scales, nu
        self.S_inv = np.linalg.inv(S)
        self.log_det = float(np.linalg.slogdet(S)[1])

    def sample(self, n, rng):
        d = len(self.centre)
        # a multivariate t: one χ² per draw, shared by the coordinates
        g = rng.standard_normal((n, d))
        w = g * np.sqrt(self.nu / rng.chisquare(self.nu, size=n))[:, None]
        factor = self.scales[np.arange(d), (w > 0).astype(int)]
        return self.centre + (w * factor) @ self.S.T

    def logpdf(self, phi):
        z = (phi - self.centre) @ self.S_inv.T
        d = z.shape[1]
        factor = self.scales[np.arange(d), (z > 0).astype(int)]
        return _mvt_logpdf(z / factor, self.nu) - np.sum(np.log(factor), axis=1) - self.log_det


def split_scales(marginal: Callable, phi_hat: np.ndarray, S: np.ndarray,
                 reach: float = 2.0) -> np.ndarray:
    """(d, 2) scales of each principal axis below and above the mode: the SD a Gaussian
    would need to fall as much as L does at ±``reach`` (1 where L is Gaussian), within
    [0.5, 3]."""
    top = marginal(phi_hat)
    out = np.ones((len(phi_hat), 2))
    for j in range(len(phi_hat)):
        for side, sign in enumerate((-1.0, 1.0)):
            drop = top - marginal(phi_hat + sign * reach * S[:, j])
            out[j, side] = reach / np.sqrt(2.0 * drop) if drop > 0 else 3.0
    return np.clip(out, 0.5, 3.0)


def _weighted_t(phis, log_w, nu, inflate=1.5):
    """A Student-t proposal matching the weighted points' mean and (inflated) covariance."""
    w = np.exp(log_w)
    mean = w @ phis
    dev = phis - mean
    cov = (dev * w[:, None]).T @ dev * inflate**2
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    S = vecs * np.sqrt(np.maximum(vals, 1e-12 * max(vals.max(), 1e-300)))
    return _SplitT(mean, S, np.ones((len(mean), 2)), nu)


def khat_threshold(points: int) -> float:
    """The Pareto k̂ above which PSIS estimates from this many draws are unreliable:
    min(1 − 1/log10 S, 0.7) (Vehtari, Simpson, Gelman, Yao & Gabry 2024)."""
    return min(1.0 - 1.0 / np.log10(max(points, 11)), 0.7)


def importance(marginal: Callable, on_point: Callable, phi_hat: np.ndarray, S: np.ndarray,
               n: int, seed, nu: float = 5.0, max_points: int | None = None) -> Points:
    """Importance sampling, PSIS-smoothed, in stages of n/4 points: the first from a split
    Student-t(ν) at the mode (a quarter of it from a wide t(3)), the second from a t matched
    to the weighted points so far, each later one from the last proposal, or from a new
    matched t while the Pareto k̂ exceeds 0.5. It stops once it has ``n`` points with k̂ ≤ 0.5 and an effective sample
    size of at least a quarter of them, or at ``max_points``. All stages count, weighted by
    the mixture of their proposals (the balance heuristic of multiple importance sampling)."""
    import arviz as az

    rng = np.random.default_rng(seed)
    d = len(phi_hat)
    step = min(n, max(n // 4, 64))  # PSIS's k̂ needs a few dozen points to mean anything
    # The wide t(3) is a defensive component: it bounds the weights where the posterior's
    # tails are heavier than the split t's (the exponential tail of a log SD towards 0).
    proposals = [_SplitT(phi_hat, S, split_scales(marginal, phi_hat, S), nu),
                 _SplitT(phi_hat, S, np.full((d, 2), _WIDE), 3.0)]
    batches = [(0, step - step // 4), (1, step // 4)]
    sizes = [0, 0]
    max_points = max(max_points or n, n)
    phis: list[np.ndarray] = []
    values: list[float] = []
    while True:
        for k, m in batches:
            batch = proposals[k].sample(m, rng)
            # Along the main axis, so that each mode warm-starts from a near neighbour's.
            batch = batch[np.argsort((batch - phi_hat) @ S[:, -1])]
            for phi in batch:
                values.append(marginal(phi))
                on_point(len(phis))
                phis.append(phi)
            sizes[k] += m
        P = np.array(phis)
        total = len(P)
        log_mix = special.logsumexp(
            [np.log(m / total) + q.logpdf(P) for q, m in zip(proposals, sizes) if m],
            axis=0)
        raw = np.array(values) - log_mix
        with np.errstate(all="ignore"):
            smoothed, khat = az.psislw(raw - np.max(raw[np.isfinite(raw)]))
        log_w = _normalise(np.asarray(smoothed))
        ess = float(1.0 / np.sum(np.exp(2 * log_w)))
        good = khat <= 0.5 and ess >= total / 4
        if (good and total >= n) or total + step > max_points:
            break
        current = batches[0][0]
        if not good or len(proposals) == 2:
            # Refit after the first stage whatever k̂ says: the t matched to the weighted
            # points (inflated) reaches tails the Hessian's axes miss (a log SD's long tail
            # towards 0 along an axis that also moves β), which k̂ cannot see when no
            # point landed there.
            proposals.append(_weighted_t(P, log_w, nu))
            sizes.append(0)
            current = len(proposals) - 1
        batches = [(current, step)]
    return Points(P, np.array(values), log_w, "importance",
                  {"points": total, "proposals": len(proposals) - 1,
                   "pareto_khat": float(khat), "khat_threshold": khat_threshold(total),
                   "ess": ess,
                   "proposal": f"split Student-t({nu:g}) at the mode on the Hessian's axes, "
                               f"a quarter of the first stage from a t(3) {_WIDE:g} times "
                               "wider" + (", then t's matched to the weighted points"
                                          if len(proposals) > 2 else ""),
                   "split_scales": proposals[0].scales.tolist()})


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
    from bayesmix.backends.nuts.diagnostics import diagnostics

    stats_ = diagnostics(z.reshape(chains, draws, d), which=("rhat", "ess_bulk"))
    return Points(phis, np.array(values), np.full(len(phis), -np.log(len(phis))), "nuts",
                  {"points": len(phis), "divergences": divergent,
                   "max_rhat": float(np.nanmax(stats_["rhat"])) if chains > 1 else None,
                   "min_ess": float(np.nanmin(stats_["ess_bulk"]))})
