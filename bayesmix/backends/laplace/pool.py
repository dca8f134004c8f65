"""Draws of the latent field collected at the integration points and resampled by weight.

At each point of p(φ | y), while the marginal's factor is there, the pool takes
``per_point`` draws of x = (β, u) | ψ, y; :meth:`DrawPool.resample` then picks the posterior
draws by systematic resampling with each pooled draw weighted by its point's weight over
the draws made there, and :func:`posterior_draws` lays them out under the shared names,
each draw carrying its own ψ (SDs, correlations, σ).
"""

from __future__ import annotations

import numpy as np

from ...results import naming

__all__ = ["DrawPool", "posterior_draws", "systematic"]


def systematic(weights: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``total`` draws from the (unnormalised) ``weights`` by systematic
    resampling: one uniform offset, then evenly spaced positions in the cumulative weights."""
    cum = np.cumsum(weights)
    positions = (rng.random() + np.arange(total)) / total
    return np.minimum(np.searchsorted(cum / cum[-1], positions), len(cum) - 1)


class DrawPool:
    """Draws of (β, b, ψ) collected point by point, then resampled by the points' weights."""

    def __init__(self, marginal, per_point: int, rng):
        self.marginal, self.per_point, self.rng = marginal, per_point, rng
        self.beta, self.b, self.hyper, self.point = [], [], [], []

    def __call__(self, k: int) -> None:
        """``per_point`` draws at point k, the marginal's last evaluated point."""
        self.add(k, self.per_point)

    def add(self, k: int, count: int) -> None:
        """``count`` draws at point k, the marginal's last evaluated point."""
        if not np.isfinite(self.marginal.last_value) or count < 1:
            return  # no posterior mass there: the point's weight is 0
        beta, b = self.marginal.draw(count, self.rng)
        self.beta.append(beta)
        self.b.append(b)
        self.hyper.append(self.marginal.last_hyper)
        self.point.append(k)

    def resample(self, log_weights: np.ndarray, total: int):
        """(point index per draw, draw index within its point) for ``total`` draws by
        systematic resampling: each pooled draw has weight w_k / (draws at point k)."""
        counts = np.array([len(b) for b in self.beta])
        chosen = systematic(np.repeat(np.exp(log_weights[self.point]) / counts, counts),
                            total, self.rng)
        self.rng.shuffle(chosen)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        which = np.searchsorted(starts, chosen, side="right") - 1
        return which, chosen - starts[which]


def posterior_draws(spec, pool: DrawPool, which, within, chains: int, draws: int):
    design = spec.design
    post = {naming.BETA: np.stack([pool.beta[k][j] for k, j in zip(which, within)])
            .reshape(chains, draws, design.p)}
    for t_idx, t in enumerate(design.terms):
        b = np.stack([pool.b[k][t_idx][j] for k, j in zip(which, within)])
        post[naming.b_var(t.label)] = b.reshape(chains, draws, t.m, t.r)
        sd = np.stack([pool.hyper[k].sds[t_idx] for k in which])
        post[naming.sd_var(t.label)] = sd.reshape(chains, draws, t.r)
        if t.correlated:
            cor = np.stack([pool.hyper[k].correlation(t_idx) for k in which])
            post[naming.cor_var(t.label)] = cor.reshape(chains, draws, t.r, t.r)
    if design.family.has_sigma:
        post[naming.SIGMA] = np.array([pool.hyper[k].sigma for k in which]).reshape(
            chains, draws)
    for j, name in enumerate(design.family.kernel_parameters):
        post[name] = np.array([pool.hyper[k].family_params[j] for k in which]).reshape(
            chains, draws)
    if design.X_zi is not None:
        post[naming.BETA_ZI] = np.stack([pool.hyper[k].zi_coef for k in which]).reshape(
            chains, draws, -1)
    return post
