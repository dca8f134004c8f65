"""blme's estimator: lme4's objective plus the penalties of blme's priors, at its minimum.

Linear models: the profiled deviance or REML criterion over θ plus the covariance priors'
penalty, with a normal prior on β (common scale) as a ridge in the penalized least squares and
p more powers of σ² (σ̂² = r²/(n + p)), as ``blmer``. GLMMs: the Laplace deviance over (θ, β)
plus the penalties of the covariance prior and of β's prior (nAGQ = 1, as ``bglmer``).
Derivative-free (COBYQA) in both cases; the covariance of β̂ as the flat-prior fits compute
it (σ²R_X⁻¹R_X⁻ᵀ with the ridge; twice the inverse Hessian of the penalized Laplace deviance
over (θ, β)).
"""

from __future__ import annotations

import time

import numpy as np

from ...errors import OptionsError, PriorError
from ...latent import BetaPrior, latent_field, new_state
from ...latent.gaussian import beta_covariance, joint_factors
from ...linalg import single_threaded_blas
from ...spec.blme import BlmeNormal, BlmeT
from .fit import _hessian_cov, _NOT_PD, _not_converged_message, _optimize, _pirls_message
from .objective import GlmmObjective, LmmObjective, lmm_deviance
from .options import LaplaceOptions
from .packing import finish
from .start import glm_start, glmm_start, lmm_start

__all__ = ["fit_blme"]


def _fit_lmm(spec, options: LaplaceOptions):
    design, blme = spec.design, spec.blme
    reml = True if options.reml is None else options.reml
    ridge, extra_dof = None, 0
    if isinstance(blme.fixef, BlmeT):
        raise PriorError("blme's t prior on β is supported for GLMMs; for a linear model use "
                         "BlmeNormal (blme's conjugate normal prior)")
    if isinstance(blme.fixef, BlmeNormal):
        if reml:
            raise OptionsError("blme's normal prior on β needs reml=False (blmer's ML fit); "
                               "its REML variant is not implemented")
        if not blme.fixef.common_scale:
            raise PriorError("for a linear model blme's normal prior on β is on σ's scale: "
                             "use BlmeNormal(common_scale=True)")
        ridge = BetaPrior(np.zeros(design.p), blme.fixef.precision(design.p))
        extra_dof = design.p
    field = latent_field(design, options.factorization)
    state = new_state(field)
    obj = LmmObjective(state, reml, ridge, extra_dof)
    start = time.perf_counter()

    def penalized(theta):
        return obj(theta) + blme.cov_penalty(design, theta)

    opt = _optimize(penalized, lmm_start(field), design.theta_lower, options)
    penalized(opt.x)
    sol = obj.last
    sigma = obj.sigma(sol)
    deviance = lmm_deviance(sol, field.n, field.p, reml, field.log_weights_sum, extra_dof)
    messages = [] if opt.converged else [_not_converged_message("θ", opt.nfev, opt.message)]
    return finish(spec, state, options, method=f"blme {'REML' if reml else 'ML'}",
                  theta=opt.x, beta=sol.beta, beta_cov=beta_covariance(sol.RX, sigma),
                  sigma=sigma, u=sol.u, RZX=sol.RZX, objective=deviance,
                  converged=opt.converged, evaluations=state.evaluations, messages=messages,
                  extra={"optimizer": "COBYQA (scipy)", "blme": blme.describe(),
                         "penalized_objective": opt.fun},
                  timings={"optimize": time.perf_counter() - start})


def _fit_glmm(spec, options: LaplaceOptions):
    design, blme = spec.design, spec.blme
    field = latent_field(design, options.factorization)
    state = new_state(field)
    state.beta = glm_start(field)
    n_theta, p = design.n_theta, field.p
    start = time.perf_counter()
    obj0 = GlmmObjective(state, 0, options.pirls_tol, options.pirls_max_iter)
    theta = glmm_start(field, state.beta)
    obj0(theta)
    RZX0, RX0 = joint_factors(state, obj0.last)
    beta0 = obj0.last.beta.copy()
    scale = np.sqrt(np.clip(np.diag(beta_covariance(RX0)), 1e-300, None))
    obj = GlmmObjective(state, 1, options.pirls_tol, options.pirls_max_iter)

    def full(x):
        return np.concatenate([x[:n_theta], beta0 + scale * x[n_theta:]])

    def penalized(x):
        xf = full(x)
        value = obj(xf) + blme.cov_penalty(design, xf[:n_theta])
        if blme.fixef is not None:
            value += blme.fixef.penalty(xf[n_theta:])
        return value

    x0 = np.concatenate([theta, np.zeros(p)])
    lower = np.concatenate([design.theta_lower, np.full(p, -np.inf)])
    opt = _optimize(penalized, x0, lower, options, initial_step=0.1)
    messages = [] if opt.converged else [
        _not_converged_message("penalized Laplace deviance over (θ, β)", opt.nfev,
                               opt.message)]
    timings = {"optimize": time.perf_counter() - start}
    value = penalized(opt.x)
    cov = None
    if options.hessian and p:
        cov = _hessian_cov(penalized, None, opt.x, value, scale, n_theta)
        if cov is None:
            messages.append(_NOT_PD)
        penalized(opt.x)
    res = obj.last
    RZX, RX = joint_factors(state, res)
    note = _pirls_message(obj)
    if note:
        messages.append(note)
    xf = full(opt.x)
    return finish(spec, state, options, method="blme Laplace", theta=xf[:n_theta].copy(),
                  beta=res.beta.copy(), beta_cov=cov if cov is not None else
                  beta_covariance(RX), sigma=None, u=res.u.copy(), RZX=RZX,
                  objective=obj.last_value, converged=opt.converged and note is None,
                  evaluations=state.evaluations, messages=messages,
                  extra={"optimizer": "COBYQA (scipy)", "blme": blme.describe(),
                         "penalized_objective": opt.fun},
                  timings=timings)


def fit_blme(spec, options: LaplaceOptions):
    """blme's posterior mode of ``spec`` (whose ``blme`` holds the priors)."""
    if spec.design.family.name == "ordinal":
        raise PriorError("blme's priors apply to lmer / glmer models, not to the ordinal "
                         "family")
    if spec.design.family.has_sigma:
        with single_threaded_blas():
            return _fit_lmm(spec, options)
    if options.reml is not None:
        raise OptionsError("reml applies to linear mixed models only")
    with single_threaded_blas():
        return _fit_glmm(spec, options)
