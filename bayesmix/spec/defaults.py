"""Weakly informative default priors, scaled to the data (all defaults live here).

Let s be the response scale: sd(y) for the Gaussian family, 1 otherwise (the link scale of
logit / probit / log models, where 2.5 units are already a large effect). For column j of X
with standard deviation s_j and mean x̄_j over the rows used:

=======================  ==================================================================
parameter                default prior
=======================  ==================================================================
coefficient j (slope)    Normal(0, 2.5 s / s_j)        (rstanarm's autoscaled prior)
intercept                Normal(m, 2.5 s √(1 + Σ_j (x̄_j / s_j)²))
                         with m = mean(y) (gaussian) or g(mean(y)) (others); the widening
                         is what the slope priors imply for an intercept at x = 0 when the
                         predictors are not centred
sd of a random column c  HalfNormal(2.5 s / s_c), s_c = sd of the column (1 for an
                         intercept or a constant column)
correlations of a term   LKJ(2): mild shrinkage towards 0, away from ±1
sigma (gaussian)         Exponential(1 / s)             (rstanarm's default)
ordinal cutpoints        Normal(0, 5) each, on the logit scale (ordered)
=======================  ==================================================================

A column with no spread (s_j = 0) uses s_j = 1. The priors used are recorded in every
result's attrs (``idata.attrs["priors"]``).
"""

from __future__ import annotations

import numpy as np

from ..design import Design
from .priors import LKJ, Exponential, HalfNormal, Normal, Prior

__all__ = ["default_priors", "response_scale"]

WIDTH = 2.5
LKJ_ETA = 2.0
CUTPOINT_SD = 5.0


def response_scale(design: Design) -> float:
    """s: sd(y) for the Gaussian family, 1 on the link scale otherwise."""
    if design.family.name == "gaussian":
        s = float(np.std(design.y, ddof=1)) if design.n > 1 else 1.0
        return s if s > 0 else 1.0
    return 1.0


def _link_mean(design: Design) -> float:
    y = design.y
    fam = design.family
    if fam.name == "gaussian":
        return float(np.mean(y))
    if fam.name in ("bernoulli", "binomial"):
        trials = design.trials if design.trials is not None else np.ones_like(y)
        p = float(np.clip(y.sum() / trials.sum(), 0.01, 0.99))
        return float(fam.link.link(np.array(p)))
    if fam.name == "poisson":
        return float(fam.link.link(np.array(max(float(np.mean(y)), 0.01))))
    return 0.0


def _spread(values: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return mean, (sd if sd > 1e-12 * max(1.0, abs(mean)) else 0.0)


def default_priors(design: Design) -> dict[str, Prior]:
    """Default prior of every parameter of ``design``, keyed by parameter name.

    Names are those of :func:`bayesmix.spec.parameter_names`.
    """
    s = response_scale(design)
    out: dict[str, Prior] = {}
    implied = 0.0
    for j, name in enumerate(design.x_names):
        if name == "(Intercept)":
            continue
        mean, sd = _spread(design.X[:, j])
        if sd == 0.0:
            sd = 1.0
        out[name] = Normal(0.0, WIDTH * s / sd)
        implied += (mean / sd) ** 2
    if "(Intercept)" in design.x_names:
        out["(Intercept)"] = Normal(_link_mean(design), WIDTH * s * np.sqrt(1.0 + implied))
    # Preserve X's column order.
    out = {name: out[name] for name in design.x_names}
    for t in design.terms:
        for c, col in enumerate(t.columns):
            _, sd = _spread(t.X[:, c])
            scale = WIDTH * s / sd if sd > 0 and col != "(Intercept)" else WIDTH * s
            out[f"sd({col}|{t.label})"] = HalfNormal(scale)
        if t.correlated:
            out[f"cor({t.label})"] = LKJ(LKJ_ETA)
    if design.family.has_sigma:
        out["sigma"] = Exponential(1.0 / s)
    if design.family.name == "ordinal":
        out["cutpoints"] = Normal(0.0, CUTPOINT_SD)
    return out
