"""Link functions g (η = g(μ)) with their inverses and derivatives dμ/dη.

All functions are vectorised NumPy and numerically safe at the ends of their domain (no
overflow in exp, μ kept strictly inside (0, 1) for the binary links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

from ..errors import FamilyError

__all__ = ["Link", "get_link", "LINKS"]

# μ is clipped this far inside (0, 1) so that log(μ) and log(1−μ) stay finite.
_EPS = np.finfo(float).eps
_MAX_EXP = 700.0  # exp(700) is finite in float64


@dataclass(frozen=True)
class Link:
    """A link function.

    Attributes
    ----------
    name : str
    link : callable, μ → η
    inverse : callable, η → μ
    mu_eta : callable, η → dμ/dη
    """

    name: str
    link: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    mu_eta: Callable[[np.ndarray], np.ndarray]

    def __repr__(self) -> str:
        return f"Link({self.name!r})"


def _logit_inv(eta):
    return np.clip(special.expit(eta), _EPS, 1 - _EPS)


def _logit_mu_eta(eta):
    mu = special.expit(eta)
    return np.maximum(mu * (1 - mu), _EPS)


def _probit_inv(eta):
    return np.clip(special.ndtr(eta), _EPS, 1 - _EPS)


def _probit_mu_eta(eta):
    return np.maximum(np.exp(-0.5 * eta * eta) / np.sqrt(2 * np.pi), _EPS)


def _cloglog_inv(eta):
    return np.clip(-np.expm1(-np.exp(np.minimum(eta, _MAX_EXP))), _EPS, 1 - _EPS)


def _cloglog_mu_eta(eta):
    eta = np.minimum(eta, _MAX_EXP)
    return np.maximum(np.exp(eta - np.exp(eta)), _EPS)


def _log_inv(eta):
    return np.maximum(np.exp(np.minimum(eta, _MAX_EXP)), _EPS)


def _identity(x):
    return x


def _inverse(x):
    with np.errstate(divide="ignore"):
        return 1.0 / x


def _inverse_mu_eta(eta):
    with np.errstate(divide="ignore"):
        return -1.0 / (eta * eta)


def _cloglog(mu):
    return np.log(-np.log1p(-mu))


# Module-level functions only (no lambdas), so that a Link, and with it a Fit, pickles.
LINKS: dict[str, Link] = {
    "identity": Link("identity", _identity, _identity, np.ones_like),
    "log": Link("log", np.log, _log_inv, _log_inv),
    "logit": Link("logit", special.logit, _logit_inv, _logit_mu_eta),
    "probit": Link("probit", special.ndtri, _probit_inv, _probit_mu_eta),
    "cloglog": Link("cloglog", _cloglog, _cloglog_inv, _cloglog_mu_eta),
    "inverse": Link("inverse", _inverse, _inverse, _inverse_mu_eta),
}


def get_link(name: str | Link) -> Link:
    """Look up a link by name (``"identity"``, ``"log"``, ``"logit"``, ``"probit"``, ``"cloglog"``,
    ``"inverse"``)."""
    if isinstance(name, Link):
        return name
    try:
        return LINKS[name]
    except (KeyError, TypeError):
        raise FamilyError(
            f"unknown link {name!r}; available links: {', '.join(LINKS)}"
        ) from None
