"""blme's priors (Chung, Rabe-Hesketh, Dorie, Gelman & Liu 2013), for its posterior modes.

blme maximises lme4's objective plus −2 log p of priors on the covariance of each term and on
β, in lme4's parameterization (θ, σ profiled for linear models; (θ, β) for GLMMs with
nAGQ = 1). ``priors="blme"`` (blme's defaults) or ``priors=BlmePriors(...)`` ask the laplace
backend for that estimator; the priors then act as the penalties below (constants omitted):

================================  ==========================================================
prior                             −2 log p
================================  ==========================================================
``BlmeWishart(df)`` on term k      −(df − r_k − 1) log|T_k T_kᵀ|  (scale = ∞; blme's default
                                  covariance prior with df = r_k + 2.5, on the relative
                                  covariance T_k T_kᵀ = Σ_k / σ², "common scale")
``BlmeGamma(shape, rate)``         −2 (shape − 1) log s + 2 rate s, s = the term's relative SD
                                  (one-column terms; Chung et al.'s boundary-avoiding prior)
``BlmeNormal(sd)`` on β            βᵀ D⁻¹ β with D = diag(sd²) (× σ² and a p log σ² term for
                                  the common scale of a linear model)
``BlmeT(df, scale)`` on β          (df + p) log(1 + βᵀ S⁻¹ β / df), S = diag(scale) (variances)
================================  ==========================================================

Vectors of sd or scale shorter than p are recycled from their second entry, as blme does
(the first is the intercept's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PriorError

__all__ = ["BlmePriors", "BlmeWishart", "BlmeGamma", "BlmeNormal", "BlmeT"]


@dataclass(frozen=True)
class BlmeWishart:
    """Wishart(df, scale = ∞) on a term's relative covariance; df None: r + 2.5."""

    df: float | None = None

    def penalty(self, T: np.ndarray) -> float:
        r = T.shape[0]
        df = r + 2.5 if self.df is None else self.df
        diag = np.abs(np.diag(T))
        if np.any(diag <= 0):
            return np.inf if df - r - 1 > 0 else -np.inf
        return -(df - r - 1) * 2.0 * float(np.sum(np.log(diag)))

    def __str__(self) -> str:
        return f"wishart(df = {'r + 2.5' if self.df is None else self.df:}, scale = Inf)"


@dataclass(frozen=True)
class BlmeGamma:
    """Gamma(shape, rate) on a one-column term's relative SD (rate 0: improper)."""

    shape: float = 2.5
    rate: float = 0.0

    def penalty(self, T: np.ndarray) -> float:
        if T.shape[0] != 1:
            raise PriorError("BlmeGamma is a prior on the SD of a one-column term; use "
                             "BlmeWishart for a term with several columns")
        s = abs(float(T[0, 0]))
        if s <= 0:
            return np.inf if self.shape > 1 else -np.inf
        return -2.0 * (self.shape - 1.0) * np.log(s) + 2.0 * self.rate * s

    def __str__(self) -> str:
        return f"gamma(shape = {self.shape:g}, rate = {self.rate:g})"


def _recycled(values, p: int) -> np.ndarray:
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if len(values) >= p:
        return values[:p]
    fill = values[-1] if len(values) > 1 else values[0]
    return np.concatenate([values, np.full(p - len(values), fill)])


@dataclass(frozen=True)
class BlmeNormal:
    """Normal(0, diag(sd²)) on β (blme's default sd = (10, 2.5, 2.5, ...))."""

    sd: tuple[float, ...] = (10.0, 2.5)
    common_scale: bool = True

    def precision(self, p: int) -> np.ndarray:
        return 1.0 / _recycled(self.sd, p) ** 2

    def penalty(self, beta: np.ndarray) -> float:
        return float(np.sum(self.precision(len(beta)) * beta * beta))

    def __str__(self) -> str:
        return (f"normal(sd = c({', '.join(f'{v:g}' for v in self.sd)}), common.scale = "
                f"{self.common_scale})")


@dataclass(frozen=True)
class BlmeT:
    """Multivariate t(df, 0, diag(scale)) on β (scale: variances, blme's default
    (10², 2.5², ...))."""

    df: float = 3.0
    scale: tuple[float, ...] = (100.0, 6.25)

    def penalty(self, beta: np.ndarray) -> float:
        p = len(beta)
        quad = float(np.sum(beta * beta / _recycled(self.scale, p)))
        return (self.df + p) * np.log1p(quad / self.df)

    def __str__(self) -> str:
        return f"t(df = {self.df:g}, scale = c({', '.join(f'{v:g}' for v in self.scale)}))"


@dataclass(frozen=True)
class BlmePriors:
    """blme's priors: one covariance prior for every term, optionally one on β.

    Parameters
    ----------
    cov : BlmeWishart, BlmeGamma or None
        blme's default is ``BlmeWishart()`` (df = r + 2.5).
    fixef : BlmeNormal, BlmeT or None
        None: flat (blme's default).
    """

    cov: BlmeWishart | BlmeGamma | None = BlmeWishart()
    fixef: BlmeNormal | BlmeT | None = None

    def cov_penalty(self, design, theta: np.ndarray) -> float:
        """Σ over terms of the covariance prior's −2 log p at θ."""
        if self.cov is None:
            return 0.0
        return float(sum(self.cov.penalty(t.T(theta)) for t in design.terms))

    def describe(self) -> str:
        fix = "flat" if self.fixef is None else str(self.fixef)
        cov = "flat" if self.cov is None else str(self.cov)
        return f"blme: cov.prior = {cov}, fixef.prior = {fix}"
