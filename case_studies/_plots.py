"""The case studies' figures: posterior densities of the SDs and σ overlaid across backends, a
forest plot of β, and one of a sample of random effects.

A fit with draws (the Bayesian Laplace, NUTS) appears as its density or interval; a fit that
reports a point (lme4, laplace with flat priors, map at a fixed covariance) as a line or a
marker with its standard error.
"""

from __future__ import annotations

import numpy as np

from bayesmix.results import naming

__all__ = ["sd_densities", "beta_forest", "b_forest"]

_Z94 = 1.8808  # the normal quantile of a central 94% interval (the tables' HDI)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draws(fit, var):
    post = fit.idata.posterior if "posterior" in fit.idata.groups() else None
    if post is None or fit.estimates is not None or var not in post:
        return None
    return post[var].values.reshape(-1, *post[var].shape[2:])


def _variance_rows(design):
    """(label, posterior variable, index) of every SD and σ."""
    rows = []
    for t in design.terms:
        for c, col in enumerate(t.columns):
            rows.append((f"sd({col}|{t.label})", naming.sd_var(t.label), c))
    if design.family.has_sigma:
        rows.append(("sigma", naming.SIGMA, None))
    return rows


def sd_densities(fits: dict, points: dict | None = None):
    """One panel per SD and σ: densities of the draws of each sampled fit, vertical lines
    for the point estimates of the others and for ``points`` (label → {name: value})."""
    plt = _plt()
    design = next(iter(fits.values())).design
    rows = _variance_rows(design)
    fig, axes = plt.subplots(1, len(rows), figsize=(3.6 * len(rows), 3.0), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, var, idx) in zip(axes[0], rows):
        for k, (name, fit) in enumerate(fits.items()):
            draws = _draws(fit, var)
            color = colors[k % len(colors)]
            if draws is not None:
                x = draws if idx is None else draws[:, idx]
                ax.hist(x, bins=40, density=True, histtype="step", color=color, label=name)
            else:
                table = fit.varcorr()
                kind = "sigma" if var == naming.SIGMA else "sd"
                value = table[table["kind"] == kind]["estimate"].to_numpy()
                value = value[0] if kind == "sigma" else value[_row_of(design, var, idx)]
                ax.axvline(value, color=color, linestyle="--", label=name)
        for k, (name, values) in enumerate((points or {}).items()):
            if label in values:
                ax.axvline(values[label], color="black", linestyle=":", label=name)
        ax.set_title(label)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _row_of(design, var, idx):
    """Position among the ``sd`` rows of varcorr() of term ``var``'s column ``idx``."""
    pos = 0
    for t in design.terms:
        if naming.sd_var(t.label) == var:
            return pos + idx
        pos += t.r
    raise KeyError(var)


def beta_forest(fits: dict, reference=None):
    """β: mean and central 94% interval per fit (estimate ± 1.88 SE for point estimates);
    ``reference`` (name, DataFrame with estimate, std_error) drawn in black."""
    plt = _plt()
    names = list(next(iter(fits.values())).design.x_names)
    entries = list(fits.items()) + ([reference] if reference else [])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 0.45 * len(entries) + 1),
                             squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, coef in zip(axes[0], names):
        for k, (label, fit) in enumerate(entries):
            table = fit if hasattr(fit, "loc") else fit.fixef()
            row = table.loc[coef]
            lo, hi = ((row["hdi_3%"], row["hdi_97%"]) if "hdi_3%" in table else
                      (row["estimate"] - _Z94 * row["std_error"],
                       row["estimate"] + _Z94 * row["std_error"]))
            color = "black" if reference and label == reference[0] else colors[k % len(colors)]
            ax.errorbar(row["estimate"], -k, xerr=[[row["estimate"] - lo], [hi - row["estimate"]]],
                        fmt="o", color=color)
        ax.set_yticks(-np.arange(len(entries)))
        ax.set_yticklabels([e[0] for e in entries] if ax is axes[0][0] else [])
        ax.set_title(coef)
    fig.tight_layout()
    return fig


def b_forest(fits: dict, label: str, count: int = 12, seed: int = 0):
    """A random sample of ``count`` levels of term ``label``'s first column: each fit's
    estimate and central 94% interval."""
    plt = _plt()
    design = next(iter(fits.values())).design
    term = design.term(label)
    rng = np.random.default_rng(seed)
    levels = np.sort(rng.choice(term.m, size=min(count, term.m), replace=False))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(levels) + 1.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.8 / len(fits)
    for k, (name, fit) in enumerate(fits.items()):
        table = fit.ranef()
        table = table[(table["group"] == label) & (table["term"] == term.columns[0])]
        est = table["estimate"].to_numpy()[levels]
        if "q3%" in table:
            lo, hi = table["q3%"].to_numpy()[levels], table["q97%"].to_numpy()[levels]
        else:
            se = table["std_error"].to_numpy()[levels]
            lo, hi = est - _Z94 * se, est + _Z94 * se
        y = -np.arange(len(levels)) - k * width
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", ms=3,
                    color=colors[k % len(colors)], label=name)
    ax.set_yticks(-np.arange(len(levels)))
    ax.set_yticklabels([str(term.levels[i]) for i in levels])
    ax.set_xlabel(f"b ({term.columns[0]} | {label})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
