"""Options of the ``map`` backend (MAP of β and b at a fixed covariance)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ...errors import OptionsError
from ..options import DrawOptions

__all__ = ["MapOptions"]


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise OptionsError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class MapOptions(DrawOptions):
    """Options of ``backend="map"`` (``draws``, ``chains``, ``seed`` and ``log_likelihood``
    as every backend: :class:`~bayesmix.backends.options.DrawOptions`; the draws come from
    the Gaussian approximation at the mode, and with a large crossed term solved by
    conjugate gradients the automatic number is at most 8, one block of solves).

    Parameters
    ----------
    covariance : dict, DataFrame or Fit
        The covariance of the random effects, held fixed. A dict maps a term label (or its
        grouping factor) to its r × r covariance matrix in the term's column order (a
        DataFrame with the column names as index and columns is reordered by name; a number
        is the variance of a one-column term); a ``Fit.varcorr()``-shaped DataFrame gives SDs
        and correlations (and the residual SD); another :class:`~bayesmix.results.Fit`
        contributes its estimates (for sampled fits: the posterior mean of each covariance
        matrix and of σ²).
    sigma : float, optional
        Residual SD of the gaussian and lognormal families (Student-t's scale); overrides
        one taken from ``covariance``.
    family_params : dict, optional
        The family's dispersion or shape parameters, held fixed like the covariance:
        ``{"phi": ...}`` (negbinomial, negbinomial1, gamma, beta), ``{"sigma": ..., "nu":
        ...}`` (student_t); overrides those taken from ``covariance`` (a Fit, or a
        ``varcorr()`` table with ``phi`` / ``nu`` rows).
    zi_coef : dict or sequence, optional
        A zero-inflated family's coefficients γ (logit π = X_zi γ), held fixed like the
        covariance: ``{"(Intercept)": ..., "minedno": ...}`` by zero-inflation column, or
        values in that order; overrides those taken from ``covariance`` (a Fit).
    tol : float
        Stop when the Newton decrement gᵀH⁻¹g (the squared distance to the mode in
        standard-error units) falls below ``tol``, or stops shrinking at the rounding floor
        of the objective.
    max_iter : int
        Newton iterations at most.
    dense_max : int
        Random effects of the smaller crossed terms (besides the term with the most effects)
        join β in the dense Schur block while their total stays at most this; larger crossed
        terms are solved by preconditioned conjugate gradients.
    cg_tol : float
        Relative residual of the conjugate-gradient solves for the standard errors when a
        crossed term is solved iteratively; the draws use its square root (their Monte Carlo
        error is far larger) and the Newton steps an adaptive tolerance.
    cg_max_iter : int
        Conjugate-gradient iterations per solve at most.
    """

    covariance: Any = None
    sigma: float | None = None
    family_params: Any = None
    zi_coef: Any = None
    tol: float = 1e-14
    max_iter: int = 100
    dense_max: int = 2000
    cg_tol: float = 1e-6
    cg_max_iter: int = 1000

    # The read-only covariance mapping pickles (and deep-copies) as a plain dict.
    def __getstate__(self):
        state = dict(self.__dict__)
        if isinstance(state["covariance"], MappingProxyType):
            state["covariance"] = dict(state["covariance"])
        return state

    def __setstate__(self, state):
        for key, value in state.items():
            if key == "covariance" and isinstance(value, dict):
                value = MappingProxyType(value)
            object.__setattr__(self, key, value)

    def __post_init__(self):
        from ...results import Fit

        self._check_draw_options(min_draws=0)
        cov = self.covariance
        if cov is None:
            raise OptionsError(
                "the 'map' backend needs covariance=...: a dict {group: r × r covariance "
                "matrix}, a Fit.varcorr()-shaped DataFrame, or another Fit whose estimates "
                "are used"
            )
        if isinstance(cov, Mapping):
            frozen = {}
            for key, value in cov.items():
                if isinstance(value, pd.DataFrame):
                    frozen[key] = value.copy()
                else:
                    arr = np.array(value, dtype=float, copy=True) if _numeric(value) else value
                    if isinstance(arr, np.ndarray):
                        arr.flags.writeable = False
                    frozen[key] = arr
            object.__setattr__(self, "covariance", MappingProxyType(frozen))
        elif isinstance(cov, pd.DataFrame):
            object.__setattr__(self, "covariance", cov.copy())
        elif not isinstance(cov, Fit):
            raise OptionsError(
                f"covariance must be a dict {{group: matrix}}, a varcorr()-shaped DataFrame "
                f"or a Fit, not {type(cov).__name__}"
            )
        if self.sigma is not None:
            if (isinstance(self.sigma, bool) or not isinstance(self.sigma, numbers.Real)
                    or not np.isfinite(self.sigma) or self.sigma <= 0):
                raise OptionsError(f"sigma must be a positive number, not {self.sigma!r}")
        for name in ("tol", "cg_tol"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0 < value < 1:
                raise OptionsError(f"{name} must be a number in (0, 1), not {value!r}")
        _positive_int("max_iter", self.max_iter)
        _positive_int("dense_max", self.dense_max)
        _positive_int("cg_max_iter", self.cg_max_iter)


def _numeric(value) -> bool:
    try:
        np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return False
    return True
