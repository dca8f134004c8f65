"""Point estimates at the mode, as the mode-based backends (laplace, map) report them.

They travel inside the InferenceData, in a group ``mode`` (as pymc-extras stores its Laplace
fit): :meth:`Estimates.to_dataset` writes it and :meth:`Estimates.from_dataset` reads it back,
so the tables, ``predict`` and a saved fit read one source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import naming

__all__ = ["TermEstimate", "Estimates", "correlation", "MODE_GROUP"]

MODE_GROUP = "mode"


def correlation(cov: np.ndarray) -> np.ndarray:
    """The correlation matrix of a covariance matrix, the rule every backend follows: the
    correlation with a column of zero variance is undefined (NaN), as R's ``cov2cor``;
    values are clipped into [−1, 1] against rounding; the diagonal is 1."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        cor = cov / np.outer(sd, sd)
    cor[~np.isfinite(cor)] = np.nan
    cor = np.clip(cor, -1.0, 1.0)
    np.fill_diagonal(cor, 1.0)
    return cor


@dataclass(frozen=True, eq=False)
class TermEstimate:
    """Estimates for one random term.

    Attributes
    ----------
    label : str
        :attr:`ReTerm.label`.
    sd : ndarray (r,)
        SDs of the term's columns (on the scale of b, σ included for the Gaussian family).
    cor : ndarray (r, r) or None
        Correlation matrix (None for uncorrelated terms).
    b : ndarray (m, r)
        Conditional modes of the random effects.
    b_sd : ndarray (m, r) or None
        Conditional SDs of b (square roots of the diagonal of the inverse Hessian blocks).
    sd_se, cor_se : ndarray or None
        Standard errors of the SDs / correlations when the backend computes them.
    """

    label: str
    sd: np.ndarray
    cor: np.ndarray | None
    b: np.ndarray
    b_sd: np.ndarray | None = None
    sd_se: np.ndarray | None = None
    cor_se: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Estimates:
    """Mode-based point estimates of a whole model.

    Attributes
    ----------
    beta : ndarray (p,)
    beta_cov : ndarray (p, p) or None
        Covariance of β̂ (its square-rooted diagonal gives the standard errors).
    sigma : float or None
        Residual SD (Gaussian family).
    terms : tuple of TermEstimate
        In the design's term order.
    cutpoints : ndarray or None
        Ordinal thresholds.
    cutpoints_cov : ndarray or None
    theta : ndarray or None
        lme4's θ at the estimate.
    family_params : dict name → float, or None
        The family's parameters besides σ of the Gaussian families (``phi``; ``sigma`` and
        ``nu`` of Student-t), by :attr:`Family.kernel_parameters`.
    family_params_se : dict name → float, or None
        Their standard errors, when the backend computes them.
    zi_coef : ndarray (m,) or None
        Zero-inflation coefficients γ (logit π = X_zi γ).
    zi_coef_cov : ndarray (m, m) or None
        Their covariance.
    """

    beta: np.ndarray
    beta_cov: np.ndarray | None
    sigma: float | None
    terms: tuple[TermEstimate, ...]
    cutpoints: np.ndarray | None = None
    cutpoints_cov: np.ndarray | None = None
    theta: np.ndarray | None = None
    family_params: dict | None = None
    family_params_se: dict | None = None
    zi_coef: np.ndarray | None = None
    zi_coef_cov: np.ndarray | None = None

    def term(self, label: str) -> TermEstimate:
        for t in self.terms:
            if t.label == label:
                return t
        raise KeyError(label)

    @property
    def beta_se(self) -> np.ndarray | None:
        if self.beta_cov is None:
            return None
        return np.sqrt(np.clip(np.diag(self.beta_cov), 0, None))

    @property
    def zi_coef_se(self) -> np.ndarray | None:
        if self.zi_coef_cov is None:
            return None
        return np.sqrt(np.clip(np.diag(self.zi_coef_cov), 0, None))

    def to_dataset(self, design, coords=None):
        """The estimates as an xarray Dataset with the shared names and dims (the ``mode``
        group of a fit's InferenceData); covariances get a second dim ``<dim>2``.
        ``coords``: :func:`~.naming.coords` of the design, when the caller has them."""
        import xarray as xr

        coords = naming.coords(design) if coords is None else coords
        data = {naming.BETA: ([naming.COEF], self.beta)}
        extra = {naming.COEF + "2": list(design.x_names)}
        if self.beta_cov is not None:
            data["beta_cov"] = ([naming.COEF, naming.COEF + "2"], self.beta_cov)
        if self.sigma is not None:
            data[naming.SIGMA] = ([], float(self.sigma))
        if self.cutpoints is not None:
            data[naming.CUTPOINTS] = ([naming.CUTPOINT], self.cutpoints)
            extra[naming.CUTPOINT + "2"] = coords[naming.CUTPOINT]
            if self.cutpoints_cov is not None:
                data["cutpoints_cov"] = ([naming.CUTPOINT, naming.CUTPOINT + "2"],
                                         self.cutpoints_cov)
        if self.zi_coef is not None:
            data[naming.BETA_ZI] = ([naming.ZI_COEF], self.zi_coef)
            extra[naming.ZI_COEF + "2"] = list(design.zi_names)
            if self.zi_coef_cov is not None:
                data["beta_zi_cov"] = ([naming.ZI_COEF, naming.ZI_COEF + "2"],
                                       self.zi_coef_cov)
        for name, value in (self.family_params or {}).items():
            data[name] = ([], float(value))
        for name, value in (self.family_params_se or {}).items():
            data[name + "_se"] = ([], float(value))
        if self.theta is not None:
            data["theta"] = (["theta_name"], np.asarray(self.theta, dtype=float))
            extra["theta_name"] = list(design.theta_names)
        for t, te in zip(design.terms, self.terms):
            term, level = naming.term_dim(t.label), naming.level_dim(t.label)
            data[naming.sd_var(t.label)] = ([term], te.sd)
            data[naming.b_var(t.label)] = ([level, term], te.b)
            if te.b_sd is not None:
                data["b_sd_" + t.label] = ([level, term], te.b_sd)
            if te.sd_se is not None:
                data["sd_se_" + t.label] = ([term], te.sd_se)
            if te.cor is not None:
                term2 = naming.term2_dim(t.label)
                data[naming.cor_var(t.label)] = ([term, term2], te.cor)
                if te.cor_se is not None:
                    data["cor_se_" + t.label] = ([term, term2], te.cor_se)
        used = {d for dims, _ in data.values() for d in dims}
        all_coords = {k: v for k, v in {**coords, **extra}.items() if k in used}
        return xr.Dataset({k: (dims, np.asarray(v)) for k, (dims, v) in data.items()},
                          coords=all_coords)

    @classmethod
    def from_dataset(cls, ds, design) -> "Estimates":
        """Read back what :meth:`to_dataset` wrote."""

        def get(name):
            return ds[name].values if name in ds else None

        terms = []
        for t in design.terms:
            terms.append(TermEstimate(
                label=t.label, sd=ds[naming.sd_var(t.label)].values,
                cor=get(naming.cor_var(t.label)), b=ds[naming.b_var(t.label)].values,
                b_sd=get("b_sd_" + t.label), sd_se=get("sd_se_" + t.label),
                cor_se=get("cor_se_" + t.label),
            ))
        sigma = None if "sigma" in design.family.kernel_parameters else get(naming.SIGMA)
        names = design.family.kernel_parameters
        params = {k: float(ds[k].values) for k in names if k in ds} or None
        ses = {k: float(ds[k + "_se"].values) for k in names if k + "_se" in ds} or None
        return cls(beta=ds[naming.BETA].values, beta_cov=get("beta_cov"),
                   sigma=None if sigma is None else float(sigma), terms=tuple(terms),
                   cutpoints=get(naming.CUTPOINTS), cutpoints_cov=get("cutpoints_cov"),
                   theta=get("theta"), family_params=params, family_params_se=ses,
                   zi_coef=get(naming.BETA_ZI), zi_coef_cov=get("beta_zi_cov"))
