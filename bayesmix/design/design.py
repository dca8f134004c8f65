"""The Design: everything a backend needs about the data, frozen after it is built.

η = Xβ + Zb + offset, b = Λ_θ u. A Design holds y (with trials for binomial), X, the random
terms (codes, columns, structure), Z, θ's bounds and names, and the Λ_θ template. It never
changes after :func:`~bayesmix.design.build_design` returns it; all arrays are read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..families import Family
from ..formula.matrices import ModelColumns
from ..formula.parser import ParsedFormula
from .lambda_template import LambdaTemplate
from .reterm import ReTerm, psd_cholesky
from .zmatrix import z_lambda

__all__ = ["Design"]


@dataclass(frozen=True, eq=False)
class Design:
    """Model matrices and random-effects structure of one formula on one data set.

    Attributes
    ----------
    formula : str
    parsed : ParsedFormula
    family : Family
    y : ndarray (n,)
        Response: values (gaussian), 0/1 (bernoulli), successes (binomial), counts (poisson),
        0-based category codes (ordinal).
    trials : ndarray (n,) or None
        Binomial trials.
    weights : ndarray (n,) or None
        Prior weights.
    offset : ndarray (n,) or None
        Sum of the formula's ``offset()`` terms.
    response_name : str
    response_levels : tuple or None
        Outcome labels of a categorical response (ordinal categories; bernoulli's two levels).
    X : ndarray (n, p)
    x_names : tuple of str
        R-style column names of X.
    terms : tuple of ReTerm
        Random terms; Z's columns are laid out term after term (``ReTerm.z_offset``).
    Z : scipy.sparse.csr_matrix (n, q)
        Random-effects model matrix; explicit zeros kept so its pattern is fixed.
    theta_lower : ndarray
        Lower bounds of θ: 0 for diagonal entries of each T_k, −inf otherwise.
    theta_names : tuple of str
        lme4's θ names (``"Subject.(Intercept)"``, ``"Subject.Days.(Intercept)"``, ...).
    lambda_template : LambdaTemplate
    rows : pandas.Index
        Index labels of the data rows used (rows with missing values removed).
    n_dropped : int
        Rows dropped for missing values.
    zi_formula : str or None
        The zero-inflation formula (``"~ mined"``) of a zero-inflated family.
    X_zi : ndarray (n, m) or None
        Its model matrix: logit π = X_zi γ.
    zi_names : tuple of str
        R-style column names of X_zi.
    weights_column : str or None
        The data column the prior weights came from (None: none, or given as an array).
    """

    formula: str
    parsed: ParsedFormula
    family: Family
    y: np.ndarray
    trials: np.ndarray | None
    weights: np.ndarray | None
    offset: np.ndarray | None
    response_name: str
    response_levels: tuple | None
    X: np.ndarray
    x_names: tuple[str, ...]
    terms: tuple[ReTerm, ...]
    Z: sp.csr_matrix
    theta_lower: np.ndarray
    theta_names: tuple[str, ...]
    lambda_template: LambdaTemplate
    rows: pd.Index
    n_dropped: int
    fixed_model: ModelColumns
    offset_models: tuple[ModelColumns, ...]
    context: Any = None
    zi_formula: str | None = None
    X_zi: np.ndarray | None = None
    zi_names: tuple[str, ...] = ()
    zi_model: ModelColumns | None = None
    weights_column: str | None = None

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of rows used."""
        return self.X.shape[0]

    @property
    def p(self) -> int:
        """Number of fixed-effect columns."""
        return self.X.shape[1]

    @property
    def q(self) -> int:
        """Number of random effects Σ m_k r_k."""
        return self.Z.shape[1]

    @property
    def n_theta(self) -> int:
        return len(self.theta_lower)

    def term(self, label: str) -> ReTerm:
        """The random term with this label (``"Subject"``, ``"Subject.1"``)."""
        for t in self.terms:
            if t.label == label:
                return t
        raise KeyError(f"no random term {label!r}; terms: {[t.label for t in self.terms]}")

    # -- θ ---------------------------------------------------------------------------------
    @property
    def theta_init(self) -> np.ndarray:
        """lme4's starting value: 1 on the diagonals of every T_k, 0 elsewhere."""
        return np.where(np.isfinite(self.theta_lower), 1.0, 0.0)

    def Lambda(self, theta: np.ndarray) -> sp.csc_matrix:
        """Λ_θ, the q × q relative covariance factor (b = Λ_θ u)."""
        return self.lambda_template(self._check_theta(theta))

    def Z_Lambda(self, theta: np.ndarray) -> sp.csr_matrix:
        """ZΛ_θ (n × q, CSR) with the same pattern as Z, computed term by term."""
        return z_lambda(self.terms, self.n, self._check_theta(theta), self._z_pattern)

    @property
    def _z_pattern(self) -> tuple[np.ndarray, np.ndarray]:
        return self.Z.indptr, self.Z.indices

    def _check_theta(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != self.theta_lower.shape:
            raise ValueError(
                f"theta has shape {theta.shape}; this design has {self.n_theta} entries "
                f"({', '.join(self.theta_names)})"
            )
        return theta

    def T_blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """The relative covariance factors T_k of every term, in ``terms`` order."""
        theta = self._check_theta(theta)
        return [t.T(theta) for t in self.terms]

    def theta_from_covariances(self, covariances: list[np.ndarray], sigma: float = 1.0):
        """θ from the covariance matrices of the terms (in ``terms`` order), σ-relative.

        For the Gaussian family pass the residual SD σ: T_k = chol(Σ_k) / σ.
        """
        theta = np.zeros(self.n_theta)
        for t, cov in zip(self.terms, covariances):
            cov = np.asarray(cov, dtype=float).reshape(t.r, t.r)
            if t.structure == "diagonal":
                T = np.diag(np.sqrt(np.diag(cov)))
            else:
                T = psd_cholesky(cov)
            theta[t.theta_index] = t.theta_from_T(T / sigma)
        return theta

    # -- display -----------------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text description of the design."""
        fam = self.family
        lines = [
            f"Design: {self.formula}",
            f"  family: {fam.name} ({fam.link.name} link)   rows: {self.n:,}"
            + (f"   (dropped {self.n_dropped:,} with missing values)" if self.n_dropped else ""),
            f"  response: {self.response_name}"
            + (f"   levels: {', '.join(map(str, self.response_levels))}"
               if self.response_levels else ""),
            f"  fixed effects (p = {self.p}): {', '.join(self.x_names)}",
        ]
        if self.X_zi is not None:
            lines.append(f"  zero-inflation {self.zi_formula} (logit π, m = "
                         f"{len(self.zi_names)}): {', '.join(self.zi_names)}")
        if self.offset is not None:
            lines.append(f"  offset: {' + '.join(self.parsed.offsets)}")
        if self.weights is not None:
            lines.append("  prior weights: yes")
        lines.append(f"  random terms (q = {self.q:,}):")
        width = max([len(t.label) for t in self.terms], default=0)
        for t in self.terms:
            lines.append(
                f"    {t.label:<{width}}  {t.m:>9,} levels × {t.r} columns "
                f"[{', '.join(t.columns)}]  {t.structure}"
            )
        lines.append(f"  θ ({self.n_theta}): {', '.join(self.theta_names)}")
        lines.append(
            "  lower bounds: ["
            + ", ".join("0" if np.isfinite(v) else "-inf" for v in self.theta_lower)
            + "]"
        )
        nnz = self.Z.nnz
        lines.append(f"  Z: {self.n:,} × {self.q:,} sparse (CSR), {nnz:,} stored entries")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<Design {self.formula!r}: n={self.n}, p={self.p}, q={self.q}, "
            f"terms={[t.label for t in self.terms]}>"
        )
