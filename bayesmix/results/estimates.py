"""Point estimates at the mode, as the mode-based backends (laplace, map) report them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TermEstimate", "Estimates"]


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
    """

    beta: np.ndarray
    beta_cov: np.ndarray | None
    sigma: float | None
    terms: tuple[TermEstimate, ...]
    cutpoints: np.ndarray | None = None
    cutpoints_cov: np.ndarray | None = None
    theta: np.ndarray | None = None

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
