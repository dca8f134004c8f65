"""Declarative priors: a distribution name and its parameters, nothing else.

Each backend reads the same Prior value its own way:

- NUTS builds the PyMC distribution (:meth:`Prior.to_pymc`);
- Laplace adds :meth:`Prior.logp` to the log marginal likelihood of the covariance parameters
  and, for β, uses a Normal prior as a Gaussian precision (:meth:`Prior.normal_moments`);
- MAP uses Normal (or flat) priors on β as a ridge penalty.

Scales follow PyMC's parameterisation: ``Normal(mu, sigma)``, ``HalfNormal(sigma)``,
``Exponential(lam)`` (rate), ``Gamma(alpha, beta)`` (shape, rate), ``StudentT(nu, mu, sigma)``,
``HalfStudentT(nu, sigma)``, ``LogNormal(mu, sigma)``, ``LKJ(eta)`` on a correlation matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

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
]

REAL, POSITIVE, CORRELATION = "real", "positive", "correlation"


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


@dataclass(frozen=True)
class Normal(Prior):
    mu: float = 0.0
    sigma: float = 1.0

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        return stats.norm.logpdf(x, self.mu, self.sigma)

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


@dataclass(frozen=True)
class HalfNormal(Prior):
    sigma: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        x = np.asarray(x, float)
        return np.where(x >= 0, stats.halfnorm.logpdf(x, scale=self.sigma), -np.inf)


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


@dataclass(frozen=True)
class Exponential(Prior):
    lam: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("lam")

    def logp(self, x):
        return stats.expon.logpdf(x, scale=1.0 / self.lam)


@dataclass(frozen=True)
class Gamma(Prior):
    alpha: float = 2.0
    beta: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("alpha", "beta")

    def logp(self, x):
        return stats.gamma.logpdf(x, self.alpha, scale=1.0 / self.beta)


@dataclass(frozen=True)
class LogNormal(Prior):
    mu: float = 0.0
    sigma: float = 1.0
    support = POSITIVE

    def _check(self):
        self._positive("sigma")

    def logp(self, x):
        return stats.lognorm.logpdf(x, self.sigma, scale=np.exp(self.mu))


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
        raise PriorError("LKJ priors enter PyMC through pm.LKJCholeskyCov, not on their own")


def _lkj_log_c(eta: float, d: int) -> float:
    """log ∫ det(R)^(η−1) dR over d × d correlation matrices (Lewandowski, Kurowicka & Joe
    2009, eq. 16)."""
    out = 0.0
    for k in range(1, d):
        b = eta + (d - 1 - k) / 2.0
        out += (2 * eta - 2 + d - k) * (d - k) * np.log(2.0) + (d - k) * special.betaln(b, b)
    return out


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
