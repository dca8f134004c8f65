"""The Laplace backend's ``fit``: lmer (ML/REML), glmer (nAGQ = 1 and 0) and clmm (Laplace) on
a sparse factor, with flat priors.

Every fit starts from moment estimates of θ (:mod:`.start`).
Gaussian: minimise the profiled deviance or REML criterion over θ (:mod:`.objective`), by
Newton steps on the analytic gradient and the average information where a gradient is cheap
(the blocked factorization), derivative-free otherwise (see ``LaplaceOptions.gradient``).
Other families: with a canonical link and nAGQ = 1, one nAGQ = 0 solve at the start gives β̂
and its standard errors, then Newton steps minimise the Laplace deviance over (θ, β), β
rescaled by those standard errors; otherwise as glmer, derivative-free: the nAGQ = 0 deviance
over θ with β inside the mode, then (nAGQ = 1) the Laplace deviance over (θ, β) from there.
Ordinal: derivative-free over (θ, β, α) with the thresholds as increments (log-spaced, so
they stay ordered). Covariances of β̂ (and α̂) for nAGQ = 1 come from the Hessian of the
Laplace deviance (forward differences of the gradient, or central differences of the
deviance).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from scipy import special

from ...errors import DataError, OptionsError
from ...families import kernels as fk
from ...latent import latent_field, new_state
from ...latent._row_pass import threshold_cross
from ...latent.gaussian import beta_covariance, joint_factors
from ...linalg import single_threaded_blas
from ...progress import stage
from ...spec import ModelSpec
from ..estimability import check_estimable, separated, separation_message
from .checks import check_model
from .objective import GlmmObjective, LmmObjective, lmm_deviance
from .optimize import fd_hessian, fd_hessian_from_gradient, minimize_bounded, minimize_newton
from .options import LaplaceOptions
from .packing import SINGULAR_TOL, finish
from .start import glm_start, glmm_start, lmm_start

__all__ = ["fit"]

_OPTIMIZER_NAMES = {"cobyqa": "COBYQA (scipy)", "lbfgsb": "L-BFGS-B (scipy)",
                    "powell": "Powell (scipy)"}
_GRADIENT_OPTIMIZER = "Newton with analytic gradient and average information"


def _not_converged_message(stage: str, nfev: int, detail: str) -> str:
    return (
        f"the optimizer did not converge ({stage}: {nfev} evaluations; {detail}); the estimates "
        "may not be at the optimum. Increase max_evals, try optimizer='powell', rescale the "
        "covariates, or simplify the random-effects part."
    )


def _optimize(obj, x0, lower, options: LaplaceOptions, initial_step: float = 0.5):
    return minimize_bounded(obj, x0, lower, method=options.optimizer, ftol=options.ftol,
                            xtol=options.xtol, max_evals=options.max_evals,
                            initial_step=initial_step)


def _canonical(design, state, x: np.ndarray) -> np.ndarray:
    """x with every column of every T_k sign-flipped to a non-negative diagonal (the same
    model: T_k D (D = diag(±1)) gives the same T_kT_kᵀ); the warm-start u follows."""
    x = x.copy()
    for term in design.terms:
        T = term.T(x[: design.n_theta])
        signs = np.where(np.diag(T) < 0, -1.0, 1.0)
        if np.all(signs > 0):
            continue
        x[term.theta_index] = term.theta_from_T(T * signs[None, :])
        block = slice(term.z_offset, term.z_offset + term.q)
        state.u[block] = (state.u[block].reshape(term.m, term.r) * signs).reshape(-1)
    return x


def _to_boundary(fun, x: np.ndarray, n_theta: int, theta_lower: np.ndarray) -> np.ndarray:
    """Put diagonal θ entries that ended within 1e-4 of 0 on the boundary, if that is no
    worse (an even function of θ has its minimum at exactly 0 there; a gradient method only
    approaches it)."""
    near = [t for t in range(n_theta) if np.isfinite(theta_lower[t]) and x[t] < SINGULAR_TOL]
    if not near:
        return x
    f = fun(x)
    y = x.copy()
    y[near] = 0.0
    return y if fun(y) <= f + 1e-9 * (1 + abs(f)) else x


def _use_newton(options: LaplaceOptions, available: bool) -> bool:
    return options.gradient is True or (options.gradient == "auto" and available)


def _fit_lmm(spec: ModelSpec, options: LaplaceOptions):
    design = spec.design
    reml = True if options.reml is None else options.reml
    field = latent_field(design, options.factorization)
    state = new_state(field)
    obj = LmmObjective(state, reml)
    start = time.perf_counter()
    theta0 = lmm_start(field)
    # See LaplaceOptions.gradient: the gradient pays on the blocked factorization only.
    use_gradient = _use_newton(options, state.factor.method == "blocked")
    if use_gradient:
        # Unbounded: the objective is even in the sign of each column of T_k; the signs are
        # normalised afterwards (and entries that end near 0 put on the boundary). No secant
        # correction: the average information of an LMM is close to its Hessian.
        opt = minimize_newton(obj, obj.derivatives, theta0, tol=options.gtol**2,
                              max_evals=options.max_evals, secant=False)
        theta = _to_boundary(obj, _canonical(design, state, opt.x), design.n_theta,
                             design.theta_lower)
        opt = dataclasses.replace(opt, x=theta)
    else:
        opt = _optimize(obj, theta0, design.theta_lower, options)
    if obj.last is None or not np.array_equal(obj.last.theta, opt.x):
        obj(opt.x)
    sol = obj.last
    value = lmm_deviance(sol, field.n, field.p, reml, field.log_weights_sum)
    sigma = obj.sigma(sol)
    messages = [] if opt.converged else [_not_converged_message("θ", opt.nfev, opt.message)]
    return finish(spec, state, options, method="REML" if reml else "ML", theta=opt.x,
                  beta=sol.beta, beta_cov=beta_covariance(sol.RX, sigma), sigma=sigma,
                  u=sol.u, RZX=sol.RZX, objective=value, converged=opt.converged,
                  evaluations=state.evaluations, messages=messages,
                  extra={"optimizer": _GRADIENT_OPTIMIZER if use_gradient
                         else _OPTIMIZER_NAMES[options.optimizer],
                         "gradient": "analytic" if use_gradient else "none",
                         "devcomp": {"ldL2": sol.ldL2, "ldRX2": sol.ldRX2,
                                     "wrss": sol.wrss, "ussq": sol.ussq,
                                     "pwrss": sol.pwrss}},
                  timings={"optimize": time.perf_counter() - start})


def _hessian_cov(fun, grad, x, value, scale, n_theta):
    """Cov of the parameters after θ as lme4's ``vcov``: 2 (H⁻¹) restricted to them, H the
    Hessian of the deviance over all of x (x's last entries scaled by ``scale``). None when
    H is not positive definite."""
    if grad is not None:
        # Forward differences of the analytic gradient: steps of 2e-5 in θ (order 1) and in
        # standard errors of β (see fd_hessian_from_gradient for the accuracy measured).
        H = fd_hessian_from_gradient(grad, x, np.full(len(x), 2e-5))
    else:
        # Central differences of the objective (lme4's scheme): steps 1e-3 in θ and 1e-2
        # standard errors in the rest; the objective is smooth to ~1e-10 (tight PIRLS), so
        # the differences are accurate to ~1e-4 relative.
        step = np.concatenate([np.full(n_theta, 1e-3), np.full(len(scale), 1e-2)])
        H = fd_hessian(fun, x, step, f0=value)
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None
    return 2.0 * np.linalg.inv(H)[n_theta:, n_theta:] * np.outer(scale, scale)


_NOT_PD = ("the Hessian of the Laplace deviance is not positive definite at the estimate; "
           "standard errors of β come from the joint Gaussian of (u, β) at θ̂ (they ignore "
           "the uncertainty of θ̂)")


def _pirls_message(obj) -> str | None:
    if obj.last.converged and not obj.failures:
        return None
    return ("PIRLS did not converge at some parameter values; the Laplace deviance there is "
            "approximate. Rescale the covariates or simplify the model.")


def _fit_glmm(spec: ModelSpec, options: LaplaceOptions):
    design = spec.design
    fam = design.family
    start = time.perf_counter()
    field = latent_field(design, options.factorization)
    state = new_state(field)
    state.beta = glm_start(field)
    n_theta, p = design.n_theta, field.p
    use_gradient = options.nagq == 1 and _use_newton(
        options, fam.is_canonical) and fam.is_canonical
    messages: list[str] = []
    extra: dict = {}
    timings: dict = {}
    obj0 = GlmmObjective(state, 0, options.pirls_tol, options.pirls_max_iter)
    theta = glmm_start(field, state.beta)
    converged = True
    if use_gradient:
        # One nAGQ=0 solve at the start gives β̂ and its scale; the Newton steps do the rest.
        value = obj0(theta)
        timings["start"] = time.perf_counter() - start
    else:
        opt0 = _optimize(obj0, theta, design.theta_lower, options)
        value = obj0(opt0.x)
        theta, converged = opt0.x, opt0.converged
        if not opt0.converged:
            messages.append(_not_converged_message("nAGQ=0 stage over θ", opt0.nfev,
                                                   opt0.message))
        extra["evaluations_nagq0"] = opt0.nfev
        timings["optimize_nagq0"] = time.perf_counter() - start
    res = obj0.last
    if res is None or not (np.isfinite(value) and np.all(np.isfinite(res.beta))):
        raise DataError(separation_message(separated(spec, glm_start(field))))
    RZX0, RX0 = joint_factors(state, res)
    beta_cov = beta_covariance(RX0)
    obj = obj0
    if options.nagq >= 1:
        start = time.perf_counter()
        beta0 = res.beta.copy()
        scale = np.sqrt(np.clip(np.diag(beta_cov), 1e-300, None))
        obj = GlmmObjective(state, options.nagq, options.pirls_tol, options.pirls_max_iter)
        jac = np.concatenate([np.ones(n_theta), scale])

        def full(x):
            return np.concatenate([x[:n_theta], beta0 + scale * x[n_theta:]])

        def scaled(x):
            return obj(full(x))

        def scaled_grad(x):
            f, g = obj.value_and_grad(full(x))
            return f, g * jac

        def scaled_derivatives():
            g, H = obj.derivatives()
            return g * jac, H * np.outer(jac, jac)

        x0 = np.concatenate([theta, np.zeros(p)])
        lower = np.concatenate([design.theta_lower, np.full(p, -np.inf)])
        if use_gradient:
            # Unbounded: F is even in the sign of each column of T_k, so ∂F/∂θ_diag = 0 at
            # the bound 0, where a projected-gradient method would stop; the sign is
            # normalised afterwards.
            opt1 = minimize_newton(scaled, scaled_derivatives, x0, tol=options.gtol**2,
                                   max_evals=options.max_evals)
            x1 = _to_boundary(scaled, _canonical(design, state, opt1.x), n_theta,
                              design.theta_lower)
            opt1 = dataclasses.replace(opt1, x=x1)
        else:
            opt1 = _optimize(scaled, x0, lower, options, initial_step=0.1)
        theta = opt1.x[:n_theta]
        converged = converged and opt1.converged
        if not opt1.converged:
            messages.append(_not_converged_message("Laplace stage over (θ, β)", opt1.nfev,
                                                   opt1.message))
        extra["evaluations_laplace"] = opt1.nfev
        extra["gradient"] = "analytic" if use_gradient else "none (derivative-free)"
        timings["optimize_laplace"] = time.perf_counter() - start
        if options.hessian and p:
            start = time.perf_counter()
            value = scaled(opt1.x)
            grad = (lambda x: scaled_grad(x)[1]) if use_gradient else None
            cov = _hessian_cov(scaled, grad, opt1.x, value, scale, n_theta)
            extra["beta_cov"] = "hessian" if cov is not None else "pirls"
            if cov is None:
                messages.append(_NOT_PD)
            timings["hessian"] = time.perf_counter() - start
        else:
            cov = None
        if obj.last_x is None or not np.array_equal(obj.last_x, full(opt1.x)):
            scaled(opt1.x)  # the factor back at the mode, for the draws and the SDs of b
        res = obj.last
        RZX, RX = joint_factors(state, res)
        beta_cov = cov if cov is not None else beta_covariance(RX)
        extra["optimizer"] = (_GRADIENT_OPTIMIZER if use_gradient
                              else _OPTIMIZER_NAMES[options.optimizer])
    else:
        RZX = RZX0
        extra["optimizer"] = _OPTIMIZER_NAMES[options.optimizer]
    value = obj.last_value
    note = _pirls_message(obj) or (_pirls_message(obj0) if obj is not obj0 else None)
    if note:
        converged = False
        messages.append(note)
    infinite = separated(spec, obj.last.beta)
    if infinite:
        converged = False
        messages.append(separation_message(infinite))
    return finish(spec, state, options, method=_method(options.nagq),
                  theta=theta.copy(), beta=res.beta.copy(), beta_cov=beta_cov, sigma=None,
                  u=res.u.copy(), RZX=RZX, objective=value, converged=converged,
                  evaluations=state.evaluations, messages=messages, extra=extra,
                  timings=timings)


def _method(nagq: int) -> str:
    return {0: "nAGQ=0", 1: "Laplace"}.get(nagq, f"AGQ(nAGQ={nagq})")


def _ordinal_start(field) -> tuple[np.ndarray, np.ndarray]:
    """β = 0 and the thresholds at the quantiles of the cumulative proportions."""
    counts = np.bincount(field.y.astype(np.int64), minlength=field.n_cut + 1).astype(float)
    cum = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 1e-3, 1 - 1e-3)
    quantile = special.logit if field.link == fk.LOGIT else special.ndtri
    alpha = quantile(cum) + 1e-3 * np.arange(field.n_cut)
    return np.zeros(field.p), np.maximum.accumulate(alpha)


def _fit_ordinal(spec: ModelSpec, options: LaplaceOptions):
    """clmm's Laplace fit: derivative-free over (θ, β, α) with ordered thresholds α."""
    design = spec.design
    start = time.perf_counter()
    field = latent_field(design, options.factorization)
    state = new_state(field)
    n_theta, p, K = design.n_theta, field.p, field.n_cut
    beta0, alpha0 = _ordinal_start(field)
    theta0 = glmm_start(field, beta0, alpha0)
    obj = GlmmObjective(state, options.nagq, options.pirls_tol, options.pirls_max_iter)

    def natural(x):  # (θ, β, α₁, log(α₂ − α₁), ...) → (θ, β, α)
        inc = x[n_theta + p:]
        alpha = np.cumsum(np.concatenate([inc[:1], np.exp(inc[1:])]))
        return np.concatenate([x[:n_theta + p], alpha])

    x0 = np.concatenate([theta0, beta0, alpha0[:1], np.log(np.diff(alpha0))])
    lower = np.concatenate([design.theta_lower, np.full(p + K, -np.inf)])
    opt = _optimize(lambda x: obj(natural(x)), x0, lower, options, initial_step=0.1)
    messages = [] if opt.converged else [
        _not_converged_message("Laplace stage over (θ, β, α)", opt.nfev, opt.message)]
    timings = {"optimize": time.perf_counter() - start}
    xn = natural(opt.x)
    value = obj(xn)
    cov = None
    if options.hessian:
        start = time.perf_counter()
        cov = _hessian_cov(obj, None, xn, value, np.ones(p + K), n_theta)
        if cov is None:
            messages.append(_NOT_PD)
        obj(xn)
        timings["hessian"] = time.perf_counter() - start
    res = obj.last
    # The Hessian's coupling of u with γ = (β, α): ΛᵀZᵀ[W X, ∂²f/∂η∂α].
    trials, pw = field.kernel_arrays()
    cross = np.empty((field.n, K))
    threshold_cross(field.family, field.link, field.y, trials, pw, state.family_params, res.eta,
                    cross)
    RZX = state.factor.solve_L(state.zl.T @ np.hstack([field.X * res.w[:, None], cross]))
    if cov is None:
        _, RX = joint_factors(state, res)
        cov = np.full((p + K, p + K), np.nan)
        cov[:p, :p] = beta_covariance(RX)
    note = _pirls_message(obj)
    converged = opt.converged and note is None
    if note:
        messages.append(note)
    return finish(spec, state, options, method=_method(options.nagq),
                  theta=xn[:n_theta].copy(),
                  beta=res.beta.copy(), beta_cov=cov[:p, :p], sigma=None, u=res.u.copy(),
                  RZX=RZX, objective=obj.last_value, converged=converged,
                  evaluations=state.evaluations, messages=messages,
                  extra={"optimizer": _OPTIMIZER_NAMES[options.optimizer],
                         "gradient": "none (derivative-free)"},
                  timings=timings, cutpoints=state.family_params.copy(),
                  cutpoints_cov=cov[p:, p:], gamma_cov=np.nan_to_num(cov))


def fit(spec: ModelSpec, options: LaplaceOptions):
    """Fit a mixed model: flat priors give lme4's estimates at the mode; any other prior
    the Bayesian Laplace's posterior (:mod:`.bayes`)."""
    check_model(spec, options)
    if spec.blme is not None:
        from .blme_fit import fit_blme

        return fit_blme(spec, options)
    if not spec.all_flat:
        from .bayes import fit_bayes

        if options.nagq > 1:
            raise OptionsError(
                f"nagq={options.nagq} applies to flat priors (glmer's and clmm's adaptive "
                "quadrature); the Bayesian Laplace integrates with nagq=1. Pass "
                "priors='flat', or leave nagq unset"
            )
        if options.reml is not None:
            raise OptionsError(
                "reml applies to flat priors (lme4's REML and ML estimators); with priors the "
                "laplace backend integrates β under its prior and reports the posterior. Leave "
                "reml unset, or pass priors='flat' for lme4's estimates"
            )
        return fit_bayes(spec, options)
    check_estimable(spec)
    with single_threaded_blas(), stage("maximum likelihood (optimize, then draws)"):
        if spec.design.family.has_sigma:
            return _fit_lmm(spec, options)
        if spec.design.family.name == "ordinal":
            return _fit_ordinal(spec, options)
        if spec.design.family.kernel_parameters or spec.design.family.zero_inflated:
            from .dispersion import fit_dispersion

            return fit_dispersion(spec, options)
        return _fit_glmm(spec, options)
