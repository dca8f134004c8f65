"""Declarative priors: a distribution name and its parameters, nothing else.

Each backend reads the same Prior value its own way:

- NUTS builds the PyMC distribution (:meth:`Prior.to_pymc`);
- Laplace adds :meth:`Prior.logp` to the log marginal likelihood of the covariance parameters
  and, for β, uses a Normal prior as a Gaussian precision (:meth:`Prior.normal_moments`);
- MAP uses Normal (or flat) priors on β as a ridge penalty.

Scales follow PyMC's parameterisation: ``Normal(mu, sigma)``, ``HalfNormal(sigma)``,
``Exponential(lam)`` (rate), ``Gamma(alpha, beta)`` (shape, rate), ``StudentT(nu, mu, sigma)``,
``HalfStudentT(nu, sigma)``, ``LogNormal(mu, sigma)``, ``LKJ(eta)`` on a correlation matrix.

A vector parameter whose elements have different priors (each SD of a term its own prior)
becomes one PyMC distribution through :func:`pymc_vector_dist`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
from scipy import special, stats

from ..errors import PriorError

__all__ = [
    "Prior",
    "Normal",
    "StudentT",
    "HalfNormal",
    "HalfStudentT",
    "Exponential",
    "Gamma",
    "LogNormal",
    "LKJ",
    "Flat",
    "pymc_vector_dist",
]

REAL, POSITIVE, CORRELATION = "real", "positive", "correlation"


class _HalfTGen(stats.rv_continuous):
    """|T| for T ~ Student-t(ν): density 2 t_ν(x) on x ≥ 0 (scipy has no half-t)."""

    def _pdf(self, x, nu):
        return 2.0 * stats.t.pdf(x, nu)

    def _logpdf(self, x, nu):
        return np.log(2.0) + stats.t.logpdf(x, nu)

    def _cdf(self, x, nu):
        return 2.0 * stats.t.cdf(x, nu) - 1.0

    def _ppf(self, q, nu):
        return stats.t.ppf(0.5 + 0.5 * q, nu)


_half_t = _HalfTGen(a=0.0, name="half_t")


@dataclass(frozen=True)
class Prior:
    """Base class: subclasses are frozen dataclasses whose fields are the parameters."""

    support = REAL

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value):
                raise PriorError(f"{self}: parameter {f.name} must be finite")
        self._check()

    def _check(self) -> None:
        pass

    def _positive(self, *names: str) -> None:
        for name in names:
            if not getattr(self, name) > 0:
                raise PriorError(f"{self}: {name} must be positive")

    @property
    def is_flat(self) -> bool:
        return False

    @property
    def params(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        args = ", ".join(f"{v:g}" for v in self.params.values())
        return f"{type(self).__name__}({args})"

    def logp(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x`` (elementwise), normalised."""
        raise NotImplementedError(f"{type(self).__name__}.logp")

    def normal_moments(self) -> tuple[float, float] | None:
        """(mean, sd) when the prior is Normal, None when flat; others raise PriorError."""
        raise PriorError(
            f"{self} is not a Normal prior; this backend takes Normal or flat priors on the "
            "fixed effects (use backend='nuts' for other priors)"
        )

    def to_pymc(self, name: str, **kwargs):
        """The PyMC random variable with this prior (inside a ``pm.Model`` context)."""
        import pymc as pm

        return getattr(pm, type(self).__name__)(name, **self.params, **kwargs)

    def to_scipy(self):
        """The frozen :mod:`scipy.stats` distribution (moments, quantiles, draws)."""
        raise PriorError(f"{self} has no scipy.stats counterpart")


@dataclass(frozen=True)
class Normal(Prior):
    mu: float = 0.0
    sigma: float = 1.0

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        return stats.norm.logpdf(x, self.mu, self.sigma)

    def to_scipy(self):
        return stats.norm(self.mu, self.sigma)

    def normal_moments(self):
        return self.mu, self.sigma


@dataclass(frozen=True)
class StudentT(Prior):
    nu: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0

    def _check(self):
        self._positive("nu", "sigma")

    def logp(self, x):
        return stats.t.logpdf(x, self.nu, self.mu, self.sigma)

    def to_scipy(self):
        return stats.t(self.nu, self.mu, self.sigma)


@dataclass(frozen=True)
class HalfNormal(Prior):
    sigma: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        x = np.asarray(x, float)
        return np.where(x >= 0, stats.halfnorm.logpdf(x, scale=self.sigma), -np.inf)

    def to_scipy(self):
        return stats.halfnorm(scale=self.sigma)


@dataclass(frozen=True)
class HalfStudentT(Prior):
    nu: float = 3.0
    sigma: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("nu", "sigma")

    def logp(self, x):
        x = np.asarray(x, float)
        dens = np.log(2.0) + stats.t.logpdf(x, self.nu, 0.0, self.sigma)
        return np.where(x >= 0, dens, -np.inf)

    def to_scipy(self):
        return _half_t(self.nu, scale=self.sigma)


@dataclass(frozen=True)
class Exponential(Prior):
    lam: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("lam")

    def logp(self, x):
        return stats.expon.logpdf(x, scale=1.0 / self.lam)

    def to_scipy(self):
        return stats.expon(scale=1.0 / self.lam)


@dataclass(frozen=True)
class Gamma(Prior):
    alpha: float = 2.0
    beta: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("alpha", "beta")

    def logp(self, x):
        return stats.gamma.logpdf(x, self.alpha, scale=1.0 / self.beta)

    def to_scipy(self):
        return stats.gamma(self.alpha, scale=1.0 / self.beta)


@dataclass(frozen=True)
class LogNormal(Prior):
    mu: float = 0.0
    sigma: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        return stats.lognorm.logpdf(x, self.sigma, scale=np.exp(self.mu))

    def to_scipy(self):
        return stats.lognorm(self.sigma, scale=np.exp(self.mu))


@dataclass(frozen=True)
class LKJ(Prior):
    """LKJ(η) on a correlation matrix: density ∝ det(R)^(η−1); η = 1 is uniform."""

    eta: float = 2.0
    support = CORRELATION

    def _check(self):
        self._positive("eta")

    def logp(self, R):
        """Normalised log density of a d × d correlation matrix ``R``."""
        R = np.asarray(R, float)
        d = R.shape[-1]
        sign, logdet = np.linalg.slogdet(R)
        if sign <= 0:
            return -np.inf
        return (self.eta - 1.0) * logdet - _lkj_log_c(self.eta, d)

    def to_pymc(self, name: str, **kwargs):
        raise PriorError("an LKJ prior is not a PyMC distribution of its own: the nuts backend "
                         "builds it from canonical partial correlations "
                         "(bayesmix.spec.correlation)")


def _lkj_log_c(eta: float, d: int) -> float:
    """log ∫ det(R)^(η−1) dR over d × d correlation matrices (Lewandowski, Kurowicka & Joe
    2009, eq. 16)."""
    out = 0.0
    for k in range(1, d):
        b = eta + (d - 1 - k) / 2.0
        out += (2 * eta - 2 + d - k) * (d - k) * np.log(2.0) + (d - k) * special.betaln(b, b)
    return out


@dataclass(frozen=True)
class Constant(Prior):
    """A parameter held at ``value`` instead of estimated (brms's ``constant()``): the
    family's parameters only — Student-t's ν (and σ), φ. Every backend then treats it as
    known, as the map backend treats the covariance."""

    value: float

    def logp(self, x):
        return np.zeros_like(np.asarray(x, float))

    def normal_moments(self):
        raise PriorError(f"{self} holds a parameter fixed; it is not a prior on a coefficient")

    def to_pymc(self, name: str, **kwargs):
        import pytensor.tensor as pt

        return pt.constant(float(self.value), name=name)


@dataclass(frozen=True)
class Flat(Prior):
    """The improper flat prior (lme4's implicit prior); mode-based backends only."""

    @property
    def is_flat(self) -> bool:
        return True

    def logp(self, x):
        return np.zeros_like(np.asarray(x, float))

    def normal_moments(self):
        return None

    def __str__(self) -> str:
        return "Flat()"

    def to_pymc(self, name: str, **kwargs):
        raise PriorError(
            f"flat prior on {name!r}: the nuts backend needs proper priors (an improper "
            "posterior cannot be sampled reliably); flat priors are honoured by the "
            "'laplace' and 'map' backends"
        )


def _batched_params(priors: Sequence[Prior]) -> dict[str, np.ndarray]:
    names = [f.name for f in fields(priors[0])]
    return {k: np.array([getattr(p, k) for p in priors], dtype=float) for k in names}


def pymc_vector_dist(priors: Sequence[Prior]):
    """An unregistered PyMC distribution of a vector whose element i has prior ``priors[i]``.

    Priors of one class become one batched distribution (``HalfNormal.dist(sigma=[...])``);
    mixed classes become a ``CustomDist`` that stacks one scalar distribution per element, so
    that its log density is the sum of the elements' own.

    Parameters
    ----------
    priors : sequence of Prior
        One prior per element; LKJ priors are not element priors and are refused.
    """
    import pymc as pm
    import pytensor.tensor as pt

    priors = list(priors)
    if not priors:
        raise PriorError("pymc_vector_dist needs at least one prior")
    for p in priors:
        if isinstance(p, LKJ):
            raise PriorError(f"{p} is a prior on a correlation matrix, not on a vector element")
    kinds = {type(p) for p in priors}
    if len(kinds) == 1:
        cls = priors[0]
        if cls.is_flat:
            return pm.Flat.dist(shape=len(priors))
        return getattr(pm, type(cls).__name__).dist(
            **_batched_params(priors), shape=len(priors)
        )

    def stack(size):
        return pt.stack([pymc_vector_dist([p])[0] for p in priors])

    return pm.CustomDist.dist(dist=stack, signature="->(n)", class_name="StackedPriors")
