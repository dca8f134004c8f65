"""Pack a Laplace fit at the mode: estimates, messages, draws from the Gaussian, the Fit.

The estimates are lme4's: SDs and correlations from T_k (σ included for the Gaussian
family), b̂ = T_k û per level with the conditional SDs of :func:`bayesmix.latent.gaussian.
b_conditional_sd`, Cov(β̂) as the fit computed it. The draws in ``idata.posterior`` come from
the Gaussian approximation at the mode with the covariance parameters held at their
estimates: (β, α) ~ N((β̂, α̂), Cov) with the same covariance that ``fixef()`` reports, and
u | β, α through the factor (:func:`bayesmix.latent.gaussian.draw_field`).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ...errors import ConvergenceWarning, SingularFitWarning
from ...latent.gaussian import b_conditional_sd, b_from_u, draw_field
from ...results import Estimates, FitInfo, TermEstimate, naming
from ...results.adapter import fixed_hyperparameters, pack
from ...results.estimates import correlation
from ...results.storage import default_draws

__all__ = ["finish", "SINGULAR_TOL", "APPROXIMATION"]

# lme4's isSingular(): a diagonal entry of some T_k below this is "on the boundary".
SINGULAR_TOL = 1e-4

APPROXIMATION = (
    "Gaussian approximation at the mode (Laplace): beta (and cutpoints) drawn from a "
    "Gaussian with the covariance fixef() reports, b from its conditional Gaussian given "
    "them at the estimated covariance parameters, zero-inflation coefficients from their "
    "own Gaussian; sd_*, cor_*, sigma and the family's parameters are fixed at their "
    "estimates (no uncertainty)"
)


def _singular_message(design, theta: np.ndarray) -> str | None:
    on_diag = np.isfinite(design.theta_lower)
    at_zero = [name for name, v, d in zip(design.theta_names, theta, on_diag)
               if d and v < SINGULAR_TOL]
    if not at_zero:
        return None
    return (
        "singular fit: the covariance of the random effects is estimated on the boundary of "
        f"its space (θ entries {', '.join(at_zero)} are 0): a variance estimated as 0, or "
        "a correlation of ±1. The random-effects part is over-specified for these data (they "
        "carry no information to estimate it). Simplify it (drop the term, or its "
        "correlations with ||), or use priors that keep variances away from 0 "
        "(backend='nuts' with priors='default')."
    )


def _root(cov: np.ndarray) -> np.ndarray:
    """A square root K (K Kᵀ = cov) of a positive semi-definite covariance."""
    if cov.size == 0:
        return cov
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


def _term_estimates(design, theta, u, scale, inv_blocks) -> tuple[TermEstimate, ...]:
    out = []
    b_hat = b_from_u(design, theta, u)
    b_sd = b_conditional_sd(design, theta, inv_blocks, scale)
    for term, b, sd_b in zip(design.terms, b_hat, b_sd):
        T = term.T(theta)
        cov = scale**2 * (T @ T.T)
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        out.append(TermEstimate(term.label, sd, correlation(cov) if term.correlated else None,
                                b, sd_b))
    return tuple(out)


def _draws(spec, state, estimates, u_hat, RZX, gamma_cov, scale, options, p):
    """Posterior draws (chains, draws, ...) of β, cutpoints and b, or None for draws=0."""
    design = spec.design
    if options.draws == 0:
        return None
    chains = options.chains or 1
    S = default_draws(options.draws, chains, design.q, design.p)
    rng = np.random.default_rng(options.seed)
    gamma_hat = np.concatenate([estimates.beta, estimates.cutpoints
                                if estimates.cutpoints is not None else np.zeros(0)])
    g, b_draws = draw_field(state, u_hat, gamma_hat, RZX, _root(gamma_cov), scale,
                            chains * S, rng)
    posterior = {naming.BETA: g[:, :p].reshape(chains, S, p)}
    if estimates.zi_coef is not None:
        cov = estimates.zi_coef_cov
        cov = np.zeros((len(estimates.zi_coef),) * 2) if cov is None else np.nan_to_num(cov)
        z = rng.standard_normal((chains * S, len(estimates.zi_coef)))
        posterior[naming.BETA_ZI] = (estimates.zi_coef + z @ _root(cov).T).reshape(
            chains, S, -1)
    if estimates.cutpoints is not None:
        posterior[naming.CUTPOINTS] = g[:, p:].reshape(chains, S, -1)
    for term, b in zip(design.terms, b_draws):
        posterior[naming.b_var(term.label)] = b.reshape(chains, S, term.m, term.r)
    posterior.update(fixed_hyperparameters(spec, estimates, chains, S))
    return posterior


def finish(spec, state, options, *, method, theta, beta, beta_cov, sigma, u, RZX,
           objective, converged, evaluations, messages, extra, timings, cutpoints=None,
           cutpoints_cov=None, gamma_cov=None, family_params=None, family_params_se=None,
           zi_coef=None, zi_coef_cov=None):
    """Estimates, warnings, draws and the Fit (the state's factor must be at the mode).

    ``RZX`` couples u with γ = (β, cutpoints) and ``gamma_cov`` is Cov(γ) (default:
    ``beta_cov``), from which the draws of γ come. ``family_params`` (φ; σ and ν of
    Student-t) are held at their estimates in the draws, as the SDs; the zero-inflation
    coefficients ``zi_coef`` are drawn from N(γ̂, ``zi_coef_cov``) apart from the rest.
    """
    field = state.field
    design = spec.design
    start = time.perf_counter()
    scale = sigma if sigma is not None else 1.0
    inv_blocks = state.factor.inverse_diag_blocks(field.blocks)
    estimates = Estimates(beta=beta, beta_cov=beta_cov, sigma=sigma,
                          terms=_term_estimates(design, theta, u, scale, inv_blocks),
                          cutpoints=cutpoints, cutpoints_cov=cutpoints_cov,
                          theta=theta.copy(), family_params=family_params,
                          family_params_se=family_params_se, zi_coef=zi_coef,
                          zi_coef_cov=zi_coef_cov)
    messages = list(messages)
    singular = _singular_message(design, theta)
    if singular:
        messages.insert(0, singular)
        warnings.warn(singular, SingularFitWarning, stacklevel=4)
    if not converged:
        for m in messages:
            if m.startswith(("the optimizer did not converge", "PIRLS", "infinite estimates")):
                warnings.warn(m, ConvergenceWarning, stacklevel=4)
    posterior = _draws(spec, state, estimates, u, RZX,
                       beta_cov if gamma_cov is None else gamma_cov, scale, options,
                       field.p)
    loglik = -0.5 * objective
    n_cut = 0 if cutpoints is None else len(cutpoints)
    n_zi = 0 if zi_coef is None else len(zi_coef)
    df = (field.p + n_cut + design.n_theta + len(design.family.parameters) + n_zi
          - len(spec.constants()))
    n_draws = 0 if posterior is None else posterior[naming.BETA].shape[1]
    attrs = {"method": method, "loglik": loglik, "theta": theta.tolist(),
             "draws": n_draws, "seed": -1 if options.seed is None else options.seed}
    timings = {**timings, "draws": time.perf_counter() - start}
    info = FitInfo(backend="laplace", method=method, converged=converged,
                   iterations=evaluations, messages=tuple(messages),
                   singular=singular is not None, loglik=loglik, df=df, timings=timings,
                   extra={"theta": theta.tolist(), "objective": objective,
                          "factorization": f"{state.factor.method} "
                                           f"({state.factor.ordering} order)",
                          **extra})
    return pack(spec, info, approximation=APPROXIMATION, inference="mode",
                posterior=posterior, estimates=estimates,
                log_likelihood=options.log_likelihood, attrs=attrs)
