"""The log posterior of the hyperparameters, L(φ) = log p̃(y | ψ) + log p(φ), on the factor.

The random effects are integrated out at each ψ; for the Gaussian family β with them, under
its Gaussian prior N(μ₀, diag(1/prec)) (prec = 0: flat):

- Gaussian family, exactly: with the penalized least squares of :mod:`bayesmix.latent.pls`
  (β's prior in the penalty as σ² prec), A = ΛᵀZᵀWZΛ + I = LLᵀ and C = R_XᵀR_X,

      log p(y | θ, σ) = −((n − p)/2) log(2πσ²) + ½ Σ log wᵢ − ½ log|L|² − ½ log|R_X|²
                        − r²/(2σ²) + Σ_{prec_j > 0} ½ log(prec_j / 2π),

  which for a flat prior on β is −½ × lme4's REML criterion before σ is profiled; its
  gradient is analytic (:func:`~.gradient.pls_gradient_parts` and, in σ,
  ∂/∂σ² = −(n − p)/(2σ²) − ½ tr(C⁻¹ prec) − ½ (q₀/σ² − r²/σ⁴), q₀ = (β̂ − μ₀)ᵀ prec (β̂ − μ₀)).
- Other families, with β (and the family's parameters) in φ (:mod:`.hyper`), by the
  Laplace approximation over u at its conditional mode given (θ, β) (:func:`bayesmix.latent.conditional_mode`, glmer's nAGQ = 1):

      log p̃(y | θ, β) = Σ wᵢ log p(yᵢ | η̂ᵢ) − ½‖û‖² − ½ log|L|²,

  β's prior entering log p(φ); the gradient is analytic for canonical links
  (:func:`~.gradient.laplace_gradient`) and by central differences otherwise (each a
  warm-started mode).

The state is left at the last φ evaluated, so the Gaussian of x | ψ, y there can be drawn
from (:meth:`LaplaceMarginal.draw`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from ...latent import BetaPrior, conditional_mode, set_theta, set_zero_inflation, solve_pls
from ...latent.gaussian import draw_field
from .gradient import laplace_gradient, pls_gradient_parts, theta_maps
from .hyper import HyperSpace
from .optimize import fd_hessian

__all__ = ["LaplaceMarginal", "beta_prior"]

_FD_STEP = 1e-4  # central differences in φ (log SDs, atanh CPCs, log σ): O(1) scales


def beta_prior(spec) -> BetaPrior:
    """β's Gaussian prior from the spec (Normal priors; Flat as precision 0)."""
    mean, prec = np.zeros(spec.design.p), np.zeros(spec.design.p)
    for j, prior in enumerate(spec.beta_priors()):
        moments = prior.normal_moments()
        if moments is not None:
            mean[j], prec[j] = moments[0], 1.0 / moments[1] ** 2
    return BetaPrior(mean, prec)


class LaplaceMarginal:
    """φ ↦ L(φ) with its gradient; each evaluation moves the state to ψ(φ)."""

    def __init__(self, spec, hyper: HyperSpace, state, *, pirls_tol: float = 1e-20,
                 pirls_max_iter: int = 30):
        self.spec, self.hyper, self.state = spec, hyper, state
        self.field = state.field
        self.prior = beta_prior(spec)
        proper = self.prior.prec > 0
        self.gaussian = spec.design.family.has_sigma
        if not self.gaussian and hyper.beta_index is None:
            raise ValueError("outside the Gaussian family φ must hold β: "
                             "HyperSpace(spec, with_beta=True)")
        # The proper part of β's prior normaliser (Gaussian family: β is integrated here;
        # otherwise its prior is in log p(φ)).
        self._const = float(np.sum(0.5 * np.log(self.prior.prec[proper] / (2.0 * np.pi))))
        self.pirls_tol, self.pirls_max_iter = pirls_tol, pirls_max_iter
        self.evaluations = 0
        self.pirls_failures = 0
        self.last_phi: np.ndarray | None = None
        self.last_value = -np.inf
        self.last = None  # the PLS solution or the mode at last_phi
        # The analytic gradient: the Gaussian family, and canonical links (see
        # field_gradient); central differences otherwise.
        self._canonical = spec.design.family.is_canonical and not self.gaussian
        self._maps = theta_maps(spec.design)

    # -- evaluation ----------------------------------------------------------------------
    def __call__(self, phi: np.ndarray) -> float:
        phi = np.asarray(phi, dtype=float)
        if self.last_phi is not None and np.array_equal(phi, self.last_phi):
            return self.last_value
        hyp = self.hyper.unpack(phi)
        try:
            value = self._log_marginal(hyp) + self.hyper.log_prior(phi)
        except np.linalg.LinAlgError:
            # A covariance so extreme that the factorization loses positive definiteness in
            # rounding: far out in the tails, where the posterior has no mass.
            value = -np.inf
            self.last = None
        self.evaluations += 1
        self.last_phi, self.last_hyper = phi.copy(), hyp
        self.last_value = value if np.isfinite(value) else -np.inf
        return self.last_value

    def _log_marginal(self, hyp) -> float:
        state, f = self.state, self.field
        set_theta(state, hyp.theta)
        if self.gaussian:
            s2 = hyp.sigma**2
            sol = solve_pls(state, self.prior.scaled(s2))
            self.last = sol
            return (-0.5 * (f.n - f.p) * np.log(2.0 * np.pi * s2) + 0.5 * f.log_weights_sum
                    - 0.5 * sol.ldL2 - 0.5 * sol.ldRX2 - sol.pwrss / (2.0 * s2) + self._const)
        state.beta = hyp.beta
        if hyp.family_params is not None:
            state.family_params = hyp.family_params
        if hyp.zi_coef is not None:
            set_zero_inflation(state, hyp.zi_coef)
        mode = conditional_mode(state, fixed_beta=True, tol=self.pirls_tol,
                                max_iter=self.pirls_max_iter)
        if not mode.converged:
            state.u = np.zeros_like(state.u)
            mode = conditional_mode(state, fixed_beta=True, tol=self.pirls_tol,
                                    max_iter=self.pirls_max_iter)
        if not mode.converged:
            # Far in the tails (an extreme β or SD) PIRLS may fail: no value there.
            self.pirls_failures += 1
            self.last = None
            state.u = np.zeros_like(state.u)
            return -np.inf
        self.last = mode
        return mode.loglik - 0.5 * mode.ussq - 0.5 * mode.ldL2

    # -- gradient ------------------------------------------------------------------------
    @property
    def analytic_gradient(self) -> bool:
        """Whether :meth:`gradient` is analytic (else central differences of L)."""
        return self.gaussian or self._canonical

    def gradient(self, phi: np.ndarray) -> np.ndarray:
        """∇L(φ): analytic for the Gaussian family, central differences otherwise; the
        state ends at φ."""
        phi = np.asarray(phi, dtype=float)
        if self.gaussian:
            self(phi)
            return self._gaussian_gradient(phi)
        if self._canonical:
            self(phi)
            if self.last is not None and self.last.converged:
                g_theta, g_beta = laplace_gradient(self.state, self.last, self._maps)
                grad = self._theta_jacobian(phi).T @ (-0.5 * g_theta)
                grad[self.hyper.beta_index] += -0.5 * g_beta
                return grad + self._log_prior_gradient(phi)
        grad = np.empty(len(phi))
        for i in range(len(phi)):
            e = np.zeros(len(phi))
            e[i] = _FD_STEP
            grad[i] = (self(phi + e) - self(phi - e)) / (2.0 * _FD_STEP)
        self(phi)
        return grad

    def _gaussian_gradient(self, phi: np.ndarray) -> np.ndarray:
        state, f, sol, hyp = self.state, self.field, self.last, self.last_hyper
        s2 = hyp.sigma**2
        g_ldl, g_pw, g_rx = pls_gradient_parts(state, sol, True, self._maps)
        d_theta = -0.5 * (g_ldl + g_rx + g_pw / s2)
        # ∂ℓ/∂σ² at fixed θ, then per unit of log σ.
        prec = self.prior.prec
        trace = 0.0
        if f.p and np.any(prec > 0):
            Rinv = solve_triangular(sol.RX, np.eye(f.p))
            trace = float(np.sum(prec * np.einsum("ij,ij->i", Rinv, Rinv)))
        q0 = sol.bpen / s2
        d_s2 = (-0.5 * (f.n - f.p) / s2 - 0.5 * trace - 0.5 * (q0 / s2 - sol.pwrss / s2**2))
        grad = self._theta_jacobian(phi).T @ d_theta
        grad[self.hyper.sigma_index()] += 2.0 * s2 * d_s2
        return grad + self._log_prior_gradient(phi)

    def curvature(self, phi: np.ndarray) -> np.ndarray | None:
        """An approximation of −∇²L(φ) from the average information of the Laplace
        deviance over (θ, β) (:func:`~.information.glmm_information`, two passes over the
        rows), mapped to φ, plus the log prior's curvature: canonical links outside the
        Gaussian family; None otherwise. The state ends at φ."""
        if self.gaussian or not self._canonical:
            return None
        from .information import glmm_information

        self(phi)
        if self.last is None:
            return None
        AI = glmm_information(self.state, self.last, self._maps)
        J = np.zeros((AI.shape[0], len(phi)))
        nt = len(self.hyper.unpack(phi).theta)
        J[:nt] = self._theta_jacobian(phi)
        J[nt:, self.hyper.beta_index] = np.eye(self.field.p)
        H = 0.5 * J.T @ AI @ J - fd_hessian(self.hyper.log_prior, phi, 1e-4)
        return 0.5 * (H + H.T)

    def _theta_jacobian(self, phi: np.ndarray) -> np.ndarray:
        """∂θ/∂φ by central differences of the (cheap) map φ ↦ θ."""
        J = np.empty((len(self.hyper.unpack(phi).theta), len(phi)))
        for i in range(len(phi)):
            e = np.zeros(len(phi))
            e[i] = 1e-6
            J[:, i] = (self.hyper.unpack(phi + e).theta
                       - self.hyper.unpack(phi - e).theta) / 2e-6
        return J

    def _log_prior_gradient(self, phi: np.ndarray) -> np.ndarray:
        grad = np.empty(len(phi))
        for i in range(len(phi)):
            e = np.zeros(len(phi))
            e[i] = 1e-6
            grad[i] = (self.hyper.log_prior(phi + e) - self.hyper.log_prior(phi - e)) / 2e-6
        return grad

    # -- draws ---------------------------------------------------------------------------
    def draw(self, draws: int, rng: np.random.Generator):
        """``draws`` draws of (β, b per term) from the Gaussian of x | ψ, y at the state's
        current ψ (the last φ evaluated): arrays (draws, p) and [(draws, m, r), ...]."""
        state, f, hyp = self.state, self.field, self.last_hyper
        if self.gaussian:
            sol = self.last
            scale, RZX, u, beta = hyp.sigma, sol.RZX, sol.u, sol.beta
            root = scale * solve_triangular(sol.RX, np.eye(f.p)) if f.p else np.zeros((0, 0))
        else:  # β is the point's own (in φ): u | θ, β only
            scale, u, beta = 1.0, self.last.u, hyp.beta
            RZX, root = np.zeros((f.q, f.p)), np.zeros((f.p, f.p))
        return draw_field(state, u, beta, RZX, root, scale, draws, rng)
