"""Response families: their links, variance functions, deviances and log-likelihoods.

One ``Family`` value describes the conditional distribution of y given the linear predictor
η = Xβ + Zb + offset. Backends use these NumPy functions (PIRLS and Newton weights, the
log-likelihood that fills InferenceData's ``log_likelihood`` group); the NUTS backend maps the
family name onto the matching PyMC distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..errors import FamilyError
from .links import Link, get_link

__all__ = ["Family", "get_family", "FAMILIES"]

# Allowed links per family, first is the default (as R's family objects).
_LINKS = {
    "gaussian": ("identity", "log"),
    "bernoulli": ("logit", "probit", "cloglog"),
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log", "identity"),
    "ordinal": ("logit", "probit"),
}
_ALIASES = {"normal": "gaussian", "cumulative": "ordinal", "logistic": "bernoulli"}


def _xlogy_ratio(y, m):
    """y * log(y / m) with the 0 · log 0 = 0 convention."""
    return special.xlogy(y, y) - special.xlogy(y, m)


@dataclass(frozen=True)
class Family:
    """Conditional distribution of the response and its link.

    Parameters
    ----------
    name : {"gaussian", "bernoulli", "binomial", "poisson", "ordinal"}
        ``"ordinal"`` is the cumulative model ``g(P(y ≤ j)) = α_j − η`` with thresholds α
        estimated: proportional odds with the logit link (the default), or the probit link.
    link : str or Link, optional
        Defaults to the canonical link of the family.
    """

    name: str
    link: Link = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        name = _ALIASES.get(self.name, self.name)
        if name not in _LINKS:
            raise FamilyError(
                f"unknown family {self.name!r}; available families: {', '.join(_LINKS)}"
            )
        object.__setattr__(self, "name", name)
        link = get_link(self.link if self.link is not None else _LINKS[name][0])
        if link.name not in _LINKS[name]:
            raise FamilyError(
                f"family {name!r} does not take the {link.name!r} link; "
                f"use one of: {', '.join(_LINKS[name])}"
            )
        object.__setattr__(self, "link", link)

    def __repr__(self) -> str:
        return f"Family({self.name!r}, link={self.link.name!r})"

    @property
    def has_sigma(self) -> bool:
        """Whether the family has a residual SD σ (only the Gaussian)."""
        return self.name == "gaussian"

    @property
    def is_canonical(self) -> bool:
        """Whether the link is canonical (then expected and observed information agree)."""
        return self.link.name == _LINKS[self.name][0] and self.name != "ordinal"

    # -- moments ---------------------------------------------------------------------------
    def variance(self, mu: np.ndarray, trials: np.ndarray | None = None) -> np.ndarray:
        """Variance function V(μ) of one observation on the scale of y (successes for binomial)."""
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "poisson":
            return mu
        if self.name in ("bernoulli", "binomial"):
            n = 1.0 if trials is None else trials
            return n * mu * (1 - mu)
        raise FamilyError("the ordinal family has no variance function; use its log-likelihood")

    def mean(self, eta: np.ndarray, trials: np.ndarray | None = None) -> np.ndarray:
        """E[y | η]: μ = g⁻¹(η), times the trials for binomial."""
        mu = self.link.inverse(eta)
        if self.name == "binomial" and trials is not None:
            return trials * mu
        return mu

    # -- deviance and log-likelihood -------------------------------------------------------
    def unit_deviance(
        self, y: np.ndarray, mu: np.ndarray, trials: np.ndarray | None = None
    ) -> np.ndarray:
        """Deviance contributions d(y, μ) per observation (R's ``dev.resids`` with unit weights).

        For binomial, ``y`` counts successes out of ``trials`` and ``mu`` is the success
        probability.
        """
        if self.name == "gaussian":
            return (y - mu) ** 2
        if self.name == "poisson":
            return 2 * (_xlogy_ratio(y, mu) - (y - mu))
        if self.name in ("bernoulli", "binomial"):
            n = np.ones_like(y) if trials is None else trials
            return 2 * (_xlogy_ratio(y, n * mu) + _xlogy_ratio(n - y, n * (1 - mu)))
        raise FamilyError("the ordinal family has no unit deviance; use its log-likelihood")

    def loglik(
        self,
        y: np.ndarray,
        mu: np.ndarray,
        trials: np.ndarray | None = None,
        sigma: float | None = None,
    ) -> np.ndarray:
        """Pointwise log-likelihood log p(y_i | μ_i), with all normalising constants.

        Matches R's ``logLik`` conventions: the binomial includes log C(n, y), the Poisson
        −log y!, the Gaussian needs ``sigma``.
        """
        if self.name == "gaussian":
            if sigma is None:
                raise FamilyError("the gaussian log-likelihood needs sigma")
            return -0.5 * (((y - mu) / sigma) ** 2 + np.log(2 * np.pi)) - np.log(sigma)
        if self.name == "poisson":
            return special.xlogy(y, mu) - mu - special.gammaln(y + 1)
        if self.name in ("bernoulli", "binomial"):
            n = np.ones_like(y) if trials is None else trials
            log_choose = (
                special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
            )
            return log_choose + special.xlogy(y, mu) + special.xlog1py(n - y, -mu)
        raise FamilyError("use ordinal_loglik for the ordinal family")


def ordinal_loglik(codes: np.ndarray, eta: np.ndarray, cutpoints: np.ndarray,
                   link: str = "logit") -> np.ndarray:
    """Pointwise log-likelihood of the cumulative model, computed by the families' row kernel.

    P(y = j) = F(α_j − η) − F(α_{j−1} − η), with α_{−1} = −∞, α_{K−1} = +∞, F the logistic
    (``link="logit"``) or normal (``"probit"``) CDF and ``codes`` in 0 … K−1.
    """
    from . import kernels

    codes = np.asarray(codes, dtype=float)
    eta = np.broadcast_to(np.asarray(eta, dtype=float), codes.shape)
    out = np.empty(codes.shape)
    kernels.ordinal_loglik_rows(kernels.LOGIT if link == "logit" else kernels.PROBIT,
                                np.ascontiguousarray(codes), np.ascontiguousarray(eta),
                                np.asarray(cutpoints, dtype=float), out)
    return out


FAMILIES = tuple(_LINKS)


def get_family(family: str | Family, link: str | None = None) -> Family:
    """A :class:`Family` from a name (``"binomial"``) or a Family, with an optional link."""
    if isinstance(family, Family):
        if link is not None and link != family.link.name:
            return Family(family.name, link)
        return family
    if not isinstance(family, str):
        raise FamilyError(
            f"family must be a name or a bayesmix Family, not {type(family).__name__}; "
            f"available families: {', '.join(_LINKS)}"
        )
    return Family(family.lower(), link)
