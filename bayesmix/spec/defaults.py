"""Weakly informative default priors, scaled to the data (all defaults live here).

Every prior on β and the SDs is on the scale of the linear predictor η. Let s be that scale:
sd(y) for the identity-link families on y (gaussian, student_t), sd(log y) for the
lognormal, 1/ȳ for the inverse link (η = 1/μ), and 1 for the logit / probit / cloglog / log
links (where 2.5 units are already a large effect; the gaussian family with a log link
included). For column j of X with standard deviation s_j and mean x̄_j over the rows used:

=======================  ==================================================================
parameter                default prior
=======================  ==================================================================
coefficient j (slope)    Normal(0, 2.5 s / s_j)        (rstanarm's autoscaled prior)
intercept                Normal(m, 2.5 s √(1 + Σ_j (x̄_j / s_j)²))
                         with m = g(mean(y)) (mean(log y) for the lognormal); the widening
                         is what the slope priors imply for an intercept at x = 0 when the
                         predictors are not centred
sd of a random column c  HalfNormal(2.5 s / s_c), s_c = sd of the column (1 for an
                         intercept or a constant column)
correlations of a term   LKJ(2): mild shrinkage towards 0, away from ±1
sigma (gaussian, t)      Exponential(1 / sd(y))         (rstanarm's default; sd(log y) for
                         the lognormal)
phi (negbinomial,        LogNormal(0, 2.5): a weak prior on log φ, 95% in (0.007, 134)
negbinomial1, gamma,     (NB2's size, NB1's dispersion, gamma's shape, beta's precision)
beta)
nu (student_t)           Gamma(2, 0.1)                   (brms' default, Juárez & Steel)
ordinal cutpoints        Normal(0, 5) each, on the logit scale (ordered)
zero-inflation           as the coefficients above on the logit scale (s = 1), the
coefficient              intercept centred at 0 (π = ½): Normal(0, 2.5 / s_j) for a slope,
``zi_<column>``          Normal(0, 2.5 √(1 + Σ_j (x̄_j / s_j)²)) for the intercept
=======================  ==================================================================

A column with no spread (s_j = 0) uses s_j = 1. The priors used are recorded in every
result's attrs (``idata.attrs["priors"]``).
"""

from __future__ import annotations

import numpy as np

from ..design import Design
from .priors import LKJ, Exponential, Gamma, HalfNormal, LogNormal, Normal, Prior

__all__ = ["default_priors", "response_scale", "residual_scale", "ZI_PREFIX"]

WIDTH = 2.5
LKJ_ETA = 2.0
CUTPOINT_SD = 5.0
PHI_PRIOR = LogNormal(0.0, 2.5)
NU_PRIOR = Gamma(2.0, 0.1)
ZI_PREFIX = "zi_"


def _sd(values: np.ndarray) -> float:
    s = float(np.std(values, ddof=1)) if len(values) > 1 else 1.0
    return s if s > 0 else 1.0


def _log_y(design: Design) -> np.ndarray:
    return np.log(np.clip(np.asarray(design.y, dtype=float), 1e-300, None))


def residual_scale(design: Design) -> float:
    """The scale of σ's prior: sd(y), or sd(log y) for the lognormal."""
    return _sd(_log_y(design) if design.family.name == "lognormal" else design.y)


def response_scale(design: Design) -> float:
    """s, the scale of η: sd(y) for the identity link on y, sd(log y) for the lognormal,
    1/ȳ for the inverse link, 1 for the other links."""
    fam = design.family
    if fam.name == "lognormal":
        return _sd(_log_y(design))
    if fam.link.name == "identity" and fam.name in ("gaussian", "student_t"):
        return _sd(design.y)
    if fam.link.name == "inverse":
        return 1.0 / max(abs(float(np.mean(design.y))), 1e-12)
    return 1.0


def _link_mean(design: Design) -> float:
    y = design.y
    fam = design.family
    if fam.name in ("bernoulli", "binomial"):
        trials = design.trials if design.trials is not None else np.ones_like(y)
        p = float(np.clip(y.sum() / trials.sum(), 0.01, 0.99))
        return float(fam.link.link(np.array(p)))
    if fam.name == "ordinal":
        return 0.0
    if fam.name == "lognormal":
        return float(np.mean(_log_y(design)))
    mean = float(np.mean(y))
    if fam.link.name == "identity":
        return mean
    if fam.name == "beta":
        return float(fam.link.link(np.array(np.clip(mean, 0.01, 0.99))))
    return float(fam.link.link(np.array(max(mean, 0.01))))


def _spread(values: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return mean, (sd if sd > 1e-12 * max(1.0, abs(mean)) else 0.0)


def default_priors(design: Design) -> dict[str, Prior]:
    """Default prior of every parameter of ``design``, keyed by parameter name.

    Names are those of :func:`bayesmix.spec.parameter_names`.
    """
    s = response_scale(design)
    out = _coefficient_priors(design.X, design.x_names, s, _link_mean(design))
    for t in design.terms:
        for c, col in enumerate(t.columns):
            _, sd = _spread(t.X[:, c])
            scale = WIDTH * s / sd if sd > 0 and col != "(Intercept)" else WIDTH * s
            out[f"sd({col}|{t.label})"] = HalfNormal(scale)
        if t.correlated:
            out[f"cor({t.label})"] = LKJ(LKJ_ETA)
    for name in design.family.parameters:
        if name == "sigma":
            out["sigma"] = Exponential(1.0 / residual_scale(design))
        elif name == "phi":
            out["phi"] = PHI_PRIOR
        else:
            out["nu"] = NU_PRIOR
    if design.family.name == "ordinal":
        out["cutpoints"] = Normal(0.0, CUTPOINT_SD)
    if design.X_zi is not None:
        zi = _coefficient_priors(design.X_zi, design.zi_names, 1.0, 0.0)
        out.update({ZI_PREFIX + name: prior for name, prior in zi.items()})
    return out


def _coefficient_priors(X: np.ndarray, names, s: float, intercept_mean: float) -> dict:
    """The autoscaled priors of the columns of X, in column order (the table above)."""
    out: dict[str, Prior] = {}
    implied = 0.0
    for j, name in enumerate(names):
        if name == "(Intercept)":
            continue
        mean, sd = _spread(X[:, j])
        if sd == 0.0:
            sd = 1.0
        out[name] = Normal(0.0, WIDTH * s / sd)
        implied += (mean / sd) ** 2
    if "(Intercept)" in names:
        out["(Intercept)"] = Normal(intercept_mean, WIDTH * s * np.sqrt(1.0 + implied))
    return {name: out[name] for name in names}
