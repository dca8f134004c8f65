"""``plot_compare``: several fits of one model side by side, as one figure.

Left, a forest plot of every fixed effect and variance component (the rows of
:func:`~bayesmix.results.compare.compare`): each fit's estimate with ±2 standard errors (the
posterior mean ± 2 posterior SDs for sampled fits), fits offset vertically. Right, the
posterior densities of the SDs of the random effects (and σ, φ, ν) for every fit whose draws
vary in them (nuts, the Bayesian Laplace); mode-based fits, which hold them at their
estimates, are drawn as vertical lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from .compare import _named, compare
from .inference import _variance_draws

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["plot_compare"]


def _scalar_draws(fit: Fit):
    """(label, draws) of the SDs and the family's parameters (not the correlations)."""
    return [(label, draws) for label, draws in _variance_draws(fit)
            if not label.startswith("cor(")]


def plot_compare(fits: Mapping[str, Fit] | list[Fit], *, figsize=None):
    """A matplotlib Figure comparing ``fits`` (a dict name → Fit or a list, named by
    backend); see the module docstring."""
    import matplotlib.pyplot as plt
    from scipy import stats

    fits = _named(fits)
    table = compare(fits)
    names = list(fits)
    params = list(table.index)
    scalars = [label for label, _ in _scalar_draws(next(iter(fits.values())))]
    height = max(3.0, 0.35 * len(params) * max(1, len(names)) ** 0.5)
    fig, axes = plt.subplots(1, 2, figsize=figsize or (11, height),
                             gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    offsets = np.linspace(-0.25, 0.25, len(names)) if len(names) > 1 else [0.0]
    for k, name in enumerate(names):
        est = table[(name, "estimate")].to_numpy(dtype=float)
        se = table[(name, "std_error")].to_numpy(dtype=float)
        y = np.arange(len(params)) + offsets[k]
        ax.errorbar(est, y, xerr=np.where(np.isfinite(se), 2 * se, 0.0), fmt="o",
                    color=colors[k % len(colors)], label=name, capsize=2, markersize=4)
    ax.set_yticks(np.arange(len(params)), params)
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.set_title("estimate ± 2 SE (posterior mean ± 2 SD)")
    ax.legend(loc="best", fontsize="small")
    ax = axes[1]
    for k, (name, fit) in enumerate(fits.items()):
        color = colors[k % len(colors)]
        for j, (label, draws) in enumerate(_scalar_draws(fit)):
            style = ["-", "--", ":", "-."][j % 4]
            if np.ptp(draws) > 0:
                grid = np.linspace(draws.min(), draws.max(), 200)
                ax.plot(grid, stats.gaussian_kde(draws)(grid), style, color=color,
                        label=f"{name}: {label}")
            else:
                ax.axvline(draws[0], ls=style, color=color, label=f"{name}: {label} (fixed)")
    ax.set_title("posterior densities: " + ", ".join(scalars[:4])
                 + (" …" if len(scalars) > 4 else ""))
    ax.legend(loc="best", fontsize="x-small")
    fig.tight_layout()
    return fig
