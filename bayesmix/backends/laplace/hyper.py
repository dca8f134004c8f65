"""The hyperparameters ψ of the Bayesian Laplace, in unconstrained coordinates φ.

ψ holds, per random term, the SDs of its columns (on the scale of b: σ included for the
Gaussian family) and, for a correlated term, its correlation matrix; and σ for the Gaussian
family. The unconstrained coordinates are those the nuts backend samples:

    φ = (log sd per column, u = atanh of the canonical partial correlations per correlated
         term, log σ, log of the family's parameters (φ; σ and ν of Student-t)),

so the same priors mean the same model in both backends. The log prior density of φ is the
priors' log densities of the SDs and σ plus log sd (log σ) for the change of variables, and
for the correlations the LKJ density of u with its Jacobian
(:func:`bayesmix.spec.correlation.lkj_cpc_logp_numpy`). A flat prior on an SD is flat on
the SD (density 1 there); a flat prior on correlations is LKJ(1).

lme4's relative covariance factor follows as T_k = chol(Σ_k) / σ = D_k L_k / σ, D_k = diag(sd),
L_k the Cholesky factor of the correlation matrix (σ = 1 outside the Gaussian family).

A zero-inflated family's coefficients γ (logit π = X_zi γ) are in φ as they are, after β.

Outside the Gaussian family φ also holds β (``with_beta``): the random effects alone are
integrated by the Laplace approximation, β and ψ together by the outer integration (glmer's
nAGQ = 1 split of the parameters). The joint mode of (u, β) given ψ would put β's Gaussian
at the wrong place when the random effects' conditional posteriors are skewed (few, small
counts per level: grouseticks' intercept moved by half a posterior SD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...spec import ModelSpec
from ...spec.correlation import (cholesky_from_cpc_numpy, cpc_from_cholesky,
                                 lkj_cpc_logp_numpy, n_cpc)

__all__ = ["HyperSpace", "Hyper"]


@dataclass(frozen=True)
class Hyper:
    """ψ at one φ: SDs and correlation Cholesky factors per term, σ, and lme4's θ."""

    sds: tuple[np.ndarray, ...]
    chols: tuple[np.ndarray | None, ...]
    sigma: float | None
    theta: np.ndarray
    beta: np.ndarray | None = None
    family_params: np.ndarray | None = None
    zi_coef: np.ndarray | None = None

    def correlation(self, k: int) -> np.ndarray | None:
        L = self.chols[k]
        return None if L is None else L @ L.T


class HyperSpace:
    """The map φ ↦ ψ ↦ θ and the log prior density of φ for one ModelSpec."""

    def __init__(self, spec: ModelSpec, with_beta: bool = False):
        self.spec = spec
        design = spec.design
        self.names: list[str] = []
        self._sd_index, self._cpc_index = [], []
        self._sd_priors, self._cor_priors = [], []
        i = 0
        for t in design.terms:
            self._sd_index.append(slice(i, i + t.r))
            self._sd_priors.append(spec.sd_priors(t.label))
            self.names += [f"log sd({c}|{t.label})" for c in t.columns]
            i += t.r
            if t.correlated:
                k = n_cpc(t.r)
                self._cpc_index.append(slice(i, i + k))
                prior = spec.cor_prior(t.label)
                self._cor_priors.append(1.0 if prior is None or prior.is_flat else prior.eta)
                self.names += [f"atanh cpc({t.label})[{j}]" for j in range(k)]
                i += k
            else:
                self._cpc_index.append(None)
                self._cor_priors.append(None)
        self.has_sigma = design.family.has_sigma
        self._sigma_index = i if self.has_sigma else None
        if self.has_sigma:
            self.names.append("log sigma")
            i += 1
        self.family_names = spec.free_family_parameters()  # the others held constant
        self._has_family = bool(design.family.kernel_parameters)
        self._family_index = slice(i, i + len(self.family_names))
        self._family_priors = [spec.family_prior(name) for name in self.family_names]
        self.names += [f"log {name}" for name in self.family_names]
        i += len(self.family_names)
        self.beta_index = slice(i, i + design.p) if with_beta else None
        self._beta_priors = spec.beta_priors() if with_beta else []
        if with_beta:
            self.names += [f"beta[{name}]" for name in design.x_names]
            i += design.p
        m = len(design.zi_names)
        self.zi_index = slice(i, i + m) if m else None
        self._zi_priors = spec.zi_priors() if m else []
        self.names += [f"zi[{name}]" for name in design.zi_names]
        i += m
        self.dim = i

    def unpack(self, phi: np.ndarray) -> Hyper:
        """ψ and θ at φ."""
        phi = np.asarray(phi, dtype=float)
        design = self.spec.design
        sigma = float(np.exp(phi[self._sigma_index])) if self.has_sigma else None
        scale = sigma if sigma is not None else 1.0
        sds, chols = [], []
        theta = np.zeros(design.n_theta)
        for t, si, ci in zip(design.terms, self._sd_index, self._cpc_index):
            sd = np.exp(phi[si])
            L = cholesky_from_cpc_numpy(phi[ci], t.r) if ci is not None else None
            T = (sd[:, None] * L if L is not None else np.diag(sd)) / scale
            theta[t.theta_index] = t.theta_from_T(T)
            sds.append(sd)
            chols.append(L)
        beta = phi[self.beta_index].copy() if self.beta_index is not None else None
        params = (self.spec.family_vector(np.exp(phi[self._family_index]))
                  if self._has_family else None)
        zi = phi[self.zi_index].copy() if self.zi_index is not None else None
        return Hyper(tuple(sds), tuple(chols), sigma, theta, beta, params, zi)

    def log_prior(self, phi: np.ndarray) -> float:
        """log p(φ): the priors of ψ and the Jacobian of φ ↦ ψ."""
        phi = np.asarray(phi, dtype=float)
        total = 0.0
        for si, priors in zip(self._sd_index, self._sd_priors):
            log_sd = phi[si]
            for prior, v in zip(priors, log_sd):
                total += v + float(prior.logp(np.exp(v)))
        for ci, eta, t in zip(self._cpc_index, self._cor_priors, self.spec.design.terms):
            if ci is not None:
                total += lkj_cpc_logp_numpy(phi[ci], t.r, eta)
        if self.has_sigma:
            v = phi[self._sigma_index]
            prior = self.spec.sigma_prior
            total += v + float(prior.logp(np.exp(v)))
        for prior, v in zip(self._family_priors, phi[self._family_index]):
            total += v + float(prior.logp(np.exp(v)))
        if self.beta_index is not None:
            for prior, b in zip(self._beta_priors, phi[self.beta_index]):
                total += float(prior.logp(b))
        if self.zi_index is not None:
            for prior, g in zip(self._zi_priors, phi[self.zi_index]):
                total += float(prior.logp(g))
        return total

    def from_theta(self, theta: np.ndarray, sigma: float | None,
                   beta: np.ndarray | None = None,
                   family_params: np.ndarray | None = None,
                   zi_coef: np.ndarray | None = None) -> np.ndarray:
        """φ of lme4's θ and σ (and β when φ holds it, the family's parameters and the
        zero-inflation coefficients: a start from a flat-prior fit or moment estimates);
        SDs floored at 1e-3 of σ (log-SD coordinates cannot reach 0)."""
        design = self.spec.design
        scale = sigma if sigma is not None else 1.0
        phi = np.zeros(self.dim)
        for t, si, ci in zip(design.terms, self._sd_index, self._cpc_index):
            T = t.T(theta) * scale
            cov = T @ T.T
            sd = np.sqrt(np.maximum(np.diag(cov), (1e-3 * scale) ** 2))
            phi[si] = np.log(sd)
            if ci is not None:
                R = cov / np.outer(sd, sd)
                R[np.diag_indices_from(R)] = 1.0
                vals, vecs = np.linalg.eigh(R)
                R = (vecs * np.maximum(vals, 1e-6)) @ vecs.T
                d = np.sqrt(np.diag(R))
                phi[ci] = cpc_from_cholesky(np.linalg.cholesky(R / np.outer(d, d)))
        if self.has_sigma:
            phi[self._sigma_index] = np.log(scale)
        if self.family_names:
            names = self.spec.design.family.kernel_parameters
            phi[self._family_index] = np.log([v for n, v in zip(names, family_params)
                                              if n in self.family_names])
        if self.beta_index is not None:
            phi[self.beta_index] = beta
        if self.zi_index is not None:
            phi[self.zi_index] = zi_coef
        return phi

    def sigma_index(self) -> int | None:
        return self._sigma_index
