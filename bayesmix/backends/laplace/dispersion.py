"""The Laplace fit of the families with parameters besides η, with flat priors.

negbinomial, negbinomial1, gamma, beta, Student-t and the zero-inflated Poisson and NB2: the
family's parameters α (φ; σ and ν) and the zero-inflation coefficients γ are outer
parameters like θ and β, as in glmmTMB. The fit is glmer's two stages with a = (log α, γ)
added, derivative-free: the nAGQ = 0 deviance over (θ, a) with β in the mode gives β̂ and its
scale, then the Laplace deviance over (θ, β, a). The determinant of the Laplace approximation
is taken at the observed information (glmmTMB's), so the log-likelihood is glmmTMB's.
Standard errors of β, log α and γ come from the Hessian of the Laplace deviance over
(θ, β, a) (lme4's ``vcov`` scheme); those of α by the delta method.
"""

from __future__ import annotations

import time

import numpy as np

from ...latent import latent_field, new_state, set_zero_inflation
from ...latent.gaussian import beta_covariance, joint_factors
from .fit import (_NOT_PD, _hessian_cov, _not_converged_message, _optimize, _pirls_message,
                  _to_boundary)
from .objective import GlmmObjective
from .options import LaplaceOptions
from .packing import finish
from .start import glm_start, glmm_start

__all__ = ["fit_dispersion", "moment_params", "glm_params_start"]

# Starting values are kept inside these bounds (a moment estimate can be 0 or huge).
_PARAM_RANGE = (1e-2, 1e3)


def moment_params(field, beta: np.ndarray) -> np.ndarray:
    """Moment estimates of the family's parameters at the GLM fit β (ignoring the random
    effects, so the dispersion comes out high: a start)."""
    fam = field.design.family.count_family
    eta = field.X @ beta + field.offset
    mu = fam.mean(eta)
    y = field.y
    r2 = (y - mu) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if fam.name == "negbinomial":
            excess = np.mean(r2 - mu)
            phi = np.mean(mu * mu) / excess if excess > 0 else _PARAM_RANGE[1]
        elif fam.name == "negbinomial1":
            phi = np.mean(r2 / mu) - 1.0
        elif fam.name == "gamma":
            phi = 1.0 / np.mean(r2 / (mu * mu))
        elif fam.name == "beta":
            phi = np.mean(mu * (1.0 - mu)) / np.mean(r2) - 1.0
        else:  # Student-t: σ from the median absolute residual, ν = 5
            sigma = 1.4826 * np.median(np.sqrt(r2))
            return np.array([sigma if sigma > 0 else 1.0, 5.0])
    phi = float(phi) if np.isfinite(phi) else 1.0
    return np.array([np.clip(phi, *_PARAM_RANGE)])


def zero_inflation_start(field) -> np.ndarray | None:
    """γ of a zero-inflated family's start: half the observed share of zeros as π on the
    intercept (a count model explains the other half), the other coefficients 0."""
    design = field.design
    if field.X_zi is None:
        return None
    gamma = np.zeros(field.X_zi.shape[1])
    if "(Intercept)" in design.zi_names:
        share = float(np.clip(0.5 * np.mean(field.y == 0), 0.05, 0.45))
        gamma[design.zi_names.index("(Intercept)")] = np.log(share / (1.0 - share))
    return gamma


def glm_params_start(field, constants: dict | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(β, α, γ) of the GLM without random effects: IRLS for β at (α, γ) alternating with
    moment estimates of α at β (twice: a start, not an estimate), the parameters in
    ``constants`` held at their values; γ from :func:`zero_inflation_start` (None without
    zero-inflation)."""
    names = field.design.family.kernel_parameters
    constants = constants or {}

    def held(alpha):
        return np.array([constants.get(n, v) for n, v in zip(names, alpha)], dtype=float)

    gamma = zero_inflation_start(field)
    zeta = None if gamma is None else field.X_zi @ gamma
    alpha = np.zeros(0)
    if names:
        alpha = held(np.full(len(names), 5.0))
        alpha = held(moment_params(field, glm_start(field, alpha=alpha, zeta=zeta)))
        alpha = held(moment_params(field, glm_start(field, alpha=alpha, zeta=zeta)))
    return glm_start(field, alpha=alpha, zeta=zeta), alpha, gamma


def fit_dispersion(spec, options: LaplaceOptions):
    """glmmTMB's Laplace fit (maximum likelihood) of a family with parameters besides η."""
    design = spec.design
    names = design.family.kernel_parameters
    free = spec.free_family_parameters()  # the others are held constant
    k = len(free)
    start = time.perf_counter()
    field = latent_field(design, options.factorization)
    state = new_state(field)
    state.beta, alpha, gamma = glm_params_start(field, spec.constants())
    m = 0 if gamma is None else len(gamma)
    if m:
        set_zero_inflation(state, gamma)
    n_theta, p = design.n_theta, field.p
    theta = glmm_start(field, state.beta, alpha, state.zeta)
    alpha_free = np.array([v for n, v in zip(names, alpha) if n in free])
    a0 = np.concatenate([np.log(alpha_free), np.zeros(0) if gamma is None else gamma])
    messages: list[str] = []
    timings: dict = {}

    def outer(a):  # (log α free, γ) → (α, γ)
        return np.concatenate([spec.family_vector(np.exp(a[:k])), a[k:]])

    obj0 = GlmmObjective(state, 0, options.pirls_tol, options.pirls_max_iter)

    def stage0(x):
        return obj0(np.concatenate([x[:n_theta], outer(x[n_theta:])]))

    lower0 = np.concatenate([design.theta_lower, np.full(k + m, -np.inf)])
    opt0 = _optimize(stage0, np.concatenate([theta, a0]), lower0, options)
    stage0(opt0.x)
    converged = opt0.converged
    what = "(θ, " + ", ".join((["log α"] if k else []) + (["γ"] if m else [])) + ")"
    if not opt0.converged:
        messages.append(_not_converged_message(f"nAGQ=0 stage over {what}", opt0.nfev,
                                               opt0.message))
    timings["optimize_nagq0"] = time.perf_counter() - start
    _, RX0 = joint_factors(state, obj0.last)
    beta0 = obj0.last.beta.copy()
    scale = np.sqrt(np.clip(np.diag(beta_covariance(RX0)), 1e-300, None))

    start = time.perf_counter()
    obj = GlmmObjective(state, 1, options.pirls_tol, options.pirls_max_iter)

    def natural(x):  # (θ, scaled β, log α, γ) → (θ, β, α, γ)
        return np.concatenate([x[:n_theta], beta0 + scale * x[n_theta:n_theta + p],
                               outer(x[n_theta + p:])])

    def stage1(x):
        return obj(natural(x))

    x0 = np.concatenate([opt0.x[:n_theta], np.zeros(p), opt0.x[n_theta:]])
    lower = np.concatenate([design.theta_lower, np.full(p + k + m, -np.inf)])
    opt1 = _optimize(stage1, x0, lower, options, initial_step=0.1)
    x1 = _to_boundary(stage1, opt1.x, n_theta, design.theta_lower)
    converged = converged and opt1.converged
    if not opt1.converged:
        messages.append(_not_converged_message(
            f"Laplace stage over (θ, β{what[2:]}", opt1.nfev, opt1.message))
    timings["optimize_laplace"] = time.perf_counter() - start
    value = stage1(x1)
    cov = None
    if options.hessian:
        start = time.perf_counter()
        # Cov of (β, log α, γ): the Hessian over (θ, β scaled, log α, γ), β rescaled back.
        cov = _hessian_cov(stage1, None, x1, value, np.concatenate([scale, np.ones(k + m)]),
                           n_theta)
        if cov is None:
            messages.append(_NOT_PD)
        stage1(x1)  # the factor back at the mode, for the draws and the SDs of b
        timings["hessian"] = time.perf_counter() - start
    res = obj.last
    RZX, RX = joint_factors(state, res)
    beta_cov = cov[:p, :p] if cov is not None else beta_covariance(RX)
    free_values = np.exp(x1[n_theta + p:n_theta + p + k])
    params = spec.family_vector(free_values)
    ses = None
    if cov is not None and k:
        log_se = np.sqrt(np.clip(np.diag(cov)[p:p + k], 0.0, None))
        ses = {name: float(v * s) for name, v, s in zip(free, free_values, log_se)}
    zi_coef = x1[n_theta + p + k:].copy() if m else None
    zi_cov = None
    if m:
        zi_cov = cov[p + k:, p + k:] if cov is not None else np.full((m, m), np.nan)
    note = _pirls_message(obj) or _pirls_message(obj0)
    if note:
        converged = False
        messages.append(note)
    return finish(spec, state, options, method="Laplace", theta=x1[:n_theta].copy(),
                  beta=res.beta.copy(), beta_cov=beta_cov, sigma=None, u=res.u.copy(),
                  RZX=RZX, objective=obj.last_value, converged=converged,
                  evaluations=state.evaluations, messages=messages,
                  extra={"optimizer": f"{options.optimizer} (derivative-free)",
                         "gradient": "none (derivative-free)",
                         "evaluations_nagq0": opt0.nfev, "evaluations_laplace": opt1.nfev},
                  timings=timings,
                  family_params={name: float(v) for name, v in zip(names, params)} or None,
                  family_params_se=ses, zi_coef=zi_coef, zi_coef_cov=zi_cov)
