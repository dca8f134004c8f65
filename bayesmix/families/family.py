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
    "negbinomial": ("log",),
    "negbinomial1": ("log",),
    "gamma": ("log", "inverse"),
    "beta": ("logit",),
    "student_t": ("identity",),
    "lognormal": ("identity",),
    "zero_inflated_poisson": ("log",),
    "zero_inflated_negbinomial": ("log",),
}
_ALIASES = {"normal": "gaussian", "cumulative": "ordinal", "logistic": "bernoulli",
            "negative_binomial": "negbinomial", "nbinom2": "negbinomial",
            "negbinomial2": "negbinomial", "nbinom1": "negbinomial1", "t": "student_t",
            "studentt": "student_t", "student": "student_t",
            "zip": "zero_inflated_poisson", "zipoisson": "zero_inflated_poisson",
            "zinb": "zero_inflated_negbinomial", "zinbinom2": "zero_inflated_negbinomial",
            "zero_inflated_nbinom2": "zero_inflated_negbinomial"}
# The count family inside each zero-inflated family.
_COUNT = {"zero_inflated_poisson": "poisson", "zero_inflated_negbinomial": "negbinomial"}
# Scalar parameters of each family besides η, in the order the row kernel takes them.
_PARAMETERS = {"gaussian": ("sigma",), "lognormal": ("sigma",), "student_t": ("sigma", "nu"),
               "negbinomial": ("phi",), "negbinomial1": ("phi",), "gamma": ("phi",),
               "beta": ("phi",), "zero_inflated_negbinomial": ("phi",)}
# The canonical link, where the family has one among its links.
_CANONICAL = {"gaussian": "identity", "bernoulli": "logit", "binomial": "logit",
              "poisson": "log", "gamma": "inverse", "lognormal": "identity"}


def _xlogy_ratio(y, m):
    """y * log(y / m) with the 0 · log 0 = 0 convention."""
    return special.xlogy(y, y) - special.xlogy(y, m)


@dataclass(frozen=True)
class Family:
    """Conditional distribution of the response and its link.

    Parameters
    ----------
    name : str
        ``"gaussian"``, ``"bernoulli"``, ``"binomial"``, ``"poisson"``, ``"ordinal"``, or one
        with a dispersion or shape parameter (:attr:`parameters`):

        - ``"negbinomial"`` (NB2): Var(y) = μ + μ²/φ (glmmTMB's ``nbinom2``, φ its sigma);
        - ``"negbinomial1"`` (NB1): Var(y) = μ(1 + φ) (glmmTMB's ``nbinom1``);
        - ``"gamma"``: shape φ, Var(y) = μ²/φ (glmmTMB's sigma is 1/√φ); log link by default,
          or ``"inverse"``;
        - ``"beta"``: y in (0, 1), precision φ, Var(y) = μ(1 − μ)/(1 + φ);
        - ``"student_t"``: y = η + σ t_ν, ν estimated;
        - ``"lognormal"``: log y ~ N(η, σ²) (η is the mean of log y, as brms);
        - ``"zero_inflated_poisson"``, ``"zero_inflated_negbinomial"``: y = 0 with
          probability π, else a Poisson or NB2 count with mean μ = exp(η); logit π is the
          linear predictor of the design's zero-inflation formula (glmmTMB's ``ziformula``).

        ``"ordinal"`` is the cumulative model ``g(P(y ≤ j)) = α_j − η`` with thresholds α
        estimated: proportional odds with the logit link (the default), or the probit link.
    link : str or Link, optional
        Defaults to the first link the family takes (R's defaults, but log for gamma).
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
        """Whether y (log y for the lognormal) is Gaussian given η with residual SD σ: the
        family the exact penalized least squares fits."""
        return self.name in ("gaussian", "lognormal")

    @property
    def zero_inflated(self) -> bool:
        """Whether y has a point mass at 0 besides the count distribution."""
        return self.name in _COUNT

    @property
    def count_family(self) -> "Family":
        """The count family of a zero-inflated family (itself otherwise)."""
        return Family(_COUNT[self.name]) if self.zero_inflated else self

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the family's scalar parameters besides η (``"sigma"``, ``"phi"``,
        ``"nu"``); the ordinal thresholds are not among them."""
        return _PARAMETERS.get(self.name, ())

    @property
    def kernel_parameters(self) -> tuple[str, ...]:
        """The parameters the row kernel reads from its parameter vector (those of the
        families outside the Gaussian ones, whose σ travels separately)."""
        return () if self.has_sigma else self.parameters

    @property
    def is_canonical(self) -> bool:
        """Whether the link is canonical (then expected and observed information agree) and
        the family has no parameter besides η and σ."""
        return (_CANONICAL.get(self.name) == self.link.name
                and not self.kernel_parameters)

    # -- moments ---------------------------------------------------------------------------
    def variance(self, mu: np.ndarray, trials: np.ndarray | None = None,
                 params: dict | None = None) -> np.ndarray:
        """Variance function V(μ) of one observation on the scale of y (successes for
        binomial); the families with parameters need them in ``params`` (by name) and return
        Var(y) itself (the lognormal's ``mu`` is the mean of log y; a zero-inflated
        family's ``mu`` is the count mean, ``params["zi_prob"]`` the probability π)."""
        params = params or {}
        if self.zero_inflated:
            # Var = (1 − π)(V_c(μ) + π μ²) with π the zero-inflation probability.
            pi = params.get("zi_prob", 0.0)
            vc = self.count_family.variance(mu, params=params)
            return (1.0 - pi) * (vc + pi * mu * mu)
        if self.name in _PARAMETERS and self.name != "gaussian":
            missing = [k for k in self.parameters if k not in params]
            if missing:
                raise FamilyError(f"the {self.name} variance needs {', '.join(missing)}")
            phi = params.get("phi")
            if self.name == "negbinomial":
                return mu + mu * mu / phi
            if self.name == "negbinomial1":
                return mu * (1.0 + phi)
            if self.name == "gamma":
                return mu * mu / phi
            if self.name == "beta":
                return mu * (1.0 - mu) / (1.0 + phi)
            s2 = params["sigma"] ** 2
            if self.name == "lognormal":
                return np.expm1(s2) * np.exp(2.0 * mu + s2)
            nu = params["nu"]
            return np.where(nu > 2, s2 * nu / np.maximum(nu - 2.0, 1e-300), np.inf) * (
                np.ones_like(mu))
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "poisson":
            return mu
        if self.name in ("bernoulli", "binomial"):
            n = 1.0 if trials is None else trials
            return n * mu * (1 - mu)
        raise FamilyError("the ordinal family has no variance function; use its log-likelihood")

    def mean(self, eta: np.ndarray, trials: np.ndarray | None = None,
             params: dict | None = None) -> np.ndarray:
        """E[y | η]: μ = g⁻¹(η), times the trials for binomial; exp(η + σ²/2) for the
        lognormal (``params["sigma"]``); (1 − π) μ for a zero-inflated family given the
        zero-inflation probabilities ``params["zi_prob"]`` (μ, the count mean, without)."""
        if self.name == "lognormal":
            if not params or "sigma" not in params:
                raise FamilyError("the lognormal mean exp(η + σ²/2) needs sigma")
            return np.exp(eta + 0.5 * params["sigma"] ** 2)
        mu = self.link.inverse(eta)
        if self.name == "binomial" and trials is not None:
            return trials * mu
        if self.zero_inflated and params and "zi_prob" in params:
            return (1.0 - params["zi_prob"]) * mu
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
        if self.name == "ordinal":
            raise FamilyError("use ordinal_loglik for the ordinal family")
        raise FamilyError(
            f"the {self.name} log-likelihood needs its parameters "
            f"({', '.join(self.parameters)}); use bayesmix.results.pointwise_loglik on draws"
        )


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
