"""The Fit: the one result type of every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import pandas as pd

from ..spec import ModelSpec
from .estimates import MODE_GROUP, Estimates
from .predict import predict as _predict
from .tables import fixef_table, ranef_table, thresholds_table, varcorr_table, zi_fixef_table

if TYPE_CHECKING:
    import arviz as az

__all__ = ["Fit", "FitInfo", "STATUSES"]

STATUSES = ("converged", "warnings", "not converged")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class FitInfo:
    """How a fit was obtained.

    Attributes
    ----------
    backend : str
        ``"laplace"``, ``"nuts"`` or ``"map"``.
    method : str
        ``"REML"``, ``"ML"``, ``"Laplace"``, ``"nAGQ=0"``, ``"NUTS"``, ``"MAP"``, ...
    converged : bool
        False when the estimates or draws cannot be trusted (optimizer not converged,
        sampler diagnostics failed).
    status : {"converged", "warnings", "not converged"}
        ``converged`` in words, with a middle class for usable results that come with
        caveats (a few divergences, R-hat slightly above 1.01 somewhere); defaults to
        "converged" or "not converged" from ``converged``.
    iterations : int or None
        Optimizer iterations / function evaluations, Newton steps, or draws.
    messages : tuple of str
        Everything the user should read: convergence problems, singular fits, sampler
        warnings, each saying what it means and what to try.
    singular : bool
        A variance estimate on the boundary (0) or a correlation at ±1.
    loglik : float or None
        Log-likelihood at the estimate (for REML fits, the REML log-likelihood, as lme4).
    loglik_label : str
        What ``loglik`` is, as the summary prints it (the MAP backend reports the
        conditional log-likelihood log p(y | β̂, b̂), not a marginal one).
    df : int or None
        Number of estimated parameters (for AIC/BIC).
    timings : mapping str → float
        Seconds spent per stage (``build``, ``compile``, ``sample``, ``optimize``, ...).
    extra : mapping
        Backend-specific details (optimizer name, θ, objective, ...).
    """

    backend: str
    method: str
    converged: bool
    status: str = ""
    iterations: int | None = None
    messages: tuple[str, ...] = ()
    singular: bool = False
    loglik: float | None = None
    loglik_label: str = "log-likelihood"
    df: int | None = None
    timings: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status",
                               "converged" if self.converged else "not converged")
        elif self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        elif (self.status == "not converged") == self.converged:
            raise ValueError(f"status {self.status!r} contradicts converged={self.converged}")


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted model, whatever the backend.

    Attributes
    ----------
    spec : ModelSpec
        Design and priors.
    idata : arviz.InferenceData
        Draws with the shared names (:mod:`bayesmix.results.naming`); ``idata.attrs`` says
        which backend produced them, whether they are approximate and whether the tables
        report the mode or the posterior (``inference``); mode-based fits keep their
        estimates in the group ``mode``.
    info : FitInfo
    options : backend options object or None
        The options the backend ran with (what :meth:`update` reuses).
    """

    spec: ModelSpec
    idata: az.InferenceData
    info: FitInfo
    options: Any = None

    @cached_property
    def estimates(self) -> Estimates | None:
        """Point estimates at the mode (read from ``idata.mode``) when the fit reports the
        mode (flat-prior laplace, map); None for fits that report the posterior."""
        if self.idata.attrs.get("inference") != "mode" or MODE_GROUP not in self.idata.groups():
            return None
        return Estimates.from_dataset(self.idata[MODE_GROUP], self.design)

    @property
    def design(self):
        return self.spec.design

    @property
    def backend(self) -> str:
        return self.info.backend

    @property
    def loglik(self) -> float | None:
        """Log-likelihood at the estimate (REML log-likelihood for REML fits)."""
        return self.info.loglik

    @property
    def converged(self) -> bool:
        return self.info.converged

    @property
    def aic(self) -> float | None:
        """AIC of a maximum-likelihood fit; None where it is not defined (REML, whose
        criterion is not a likelihood of the same data; fits without a likelihood)."""
        if self.loglik is None or self.info.df is None or self.info.method == "REML":
            return None
        return -2 * self.loglik + 2 * self.info.df

    @property
    def bic(self) -> float | None:
        """BIC, where :attr:`aic` is defined."""
        if self.aic is None:
            return None
        return -2 * self.loglik + np.log(self.design.n) * self.info.df

    def fixef(self) -> pd.DataFrame:
        """Fixed effects: ``estimate``, ``std_error`` (and HDI, ESS, r_hat for draws)."""
        return fixef_table(self)

    def zi_fixef(self) -> pd.DataFrame:
        """Zero-inflation coefficients γ (logit π = X_zi γ) of a zero-inflated family, as
        :meth:`fixef` (glmmTMB's ``fixef(m)$zi``)."""
        return zi_fixef_table(self)

    def varcorr(self) -> pd.DataFrame:
        """SDs, correlations and σ: columns ``group``, ``term``, ``term2``, ``kind``,
        ``estimate``, ``std_error`` (and HDI, ESS, r_hat for draws)."""
        return varcorr_table(self)

    def thresholds(self) -> pd.DataFrame:
        """Ordinal thresholds α_j (``logit P(y ≤ j) = α_j − η``), named ``"1|2"``, ...: columns
        ``estimate``, ``std_error`` (and HDI, ESS, r_hat for draws)."""
        return thresholds_table(self)

    def ranef(self) -> pd.DataFrame:
        """Random effects b per group, level and term, with their conditional SDs."""
        return ranef_table(self)

    def predict(self, newdata: pd.DataFrame | None = None, **kwargs):
        """Predictions with optional intervals and draws; see
        :func:`bayesmix.results.predict.predict`."""
        return _predict(self, newdata, **kwargs)

    def coef(self) -> dict[str, pd.DataFrame]:
        """β + b per level of every term (lme4's ``coef``); see
        :func:`bayesmix.results.inference.coef`."""
        from .inference import coef

        return coef(self)

    def vcov(self) -> pd.DataFrame:
        """Covariance of β (of β̂, or posterior); see :func:`bayesmix.results.inference.vcov`."""
        from .inference import vcov

        return vcov(self)

    def fitted(self) -> pd.Series:
        """E[y | η] at the fitted rows (lme4's ``fitted``)."""
        from .inference import fitted

        return fitted(self)

    def residuals(self, kind: str = "response") -> pd.Series:
        """Response, Pearson or deviance residuals; see
        :func:`bayesmix.results.inference.residuals`."""
        from .inference import residuals

        return residuals(self, kind)

    def confint(self, method: str = "auto", level: float = 0.95) -> pd.DataFrame:
        """Wald, profile-likelihood or posterior intervals; see
        :func:`bayesmix.results.inference.confint`."""
        from .inference import confint

        return confint(self, method, level)

    def update(self, data: pd.DataFrame | None = None, **changes) -> "Fit":
        """Refit the same model (formula, family, priors set by name, backend and options)
        on new data, with any of them changed; see :func:`bayesmix.results.update.update`."""
        from .update import update

        return update(self, data, **changes)

    def save(self, path):
        """Write the fit to one NetCDF file that :func:`bayesmix.load` reads back without the
        data; see :mod:`bayesmix.results.persist` for what it stores."""
        from .persist import save

        return save(self, path)

    def posterior_predictive(self, seed: int | None = None):
        """Add the ``posterior_predictive`` group (y_rep per posterior draw) to ``idata``,
        for ``az.plot_ppc(fit.idata)``; see :func:`bayesmix.results.predictive.
        posterior_predictive`."""
        from .predictive import posterior_predictive

        return posterior_predictive(self, seed)

    def simulate(self, n: int = 1, seed: int | None = None,
                 newdata: pd.DataFrame | None = None, random: str = "sample") -> pd.DataFrame:
        """Simulated responses (lme4's ``simulate``); see
        :func:`bayesmix.results.predictive.simulate`."""
        from .predictive import simulate

        return simulate(self, n, seed, newdata, random)

    def summary(self) -> str:
        """A printable report in lme4's spirit."""
        from .report import report

        return report(self)

    def __repr__(self) -> str:
        return (
            f"<Fit {self.design.formula!r} [{self.design.family.name}] backend="
            f"{self.backend} method={self.info.method} converged={self.converged}>"
        )
