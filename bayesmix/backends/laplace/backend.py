"""The Laplace backend's ``fit``: lmer (ML/REML) and glmer (nAGQ = 1 and 0) on a sparse factor.

Every fit starts from moment estimates of θ (:mod:`.start`).
Gaussian: minimise the profiled deviance or REML criterion over θ (:mod:`.pls`), by Newton
steps on the analytic gradient and the average information where a gradient is cheap (the
blocked factorization), derivative-free otherwise (see ``LaplaceOptions.gradient``).
Other families (:mod:`.pirls`): with a canonical link and nAGQ = 1, one nAGQ = 0 solve at the
start gives β̂ and its standard errors, then Newton steps minimise the Laplace deviance over
(θ, β), β rescaled by those standard errors; otherwise as glmer, derivative-free: the
nAGQ = 0 deviance over θ with β inside PIRLS, then (nAGQ = 1) the Laplace deviance over (θ, β)
from there. Standard errors of β for nAGQ = 1 come from the Hessian of the Laplace deviance
(forward differences of the gradient, or lme4's central differences of the deviance).
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
from scipy.linalg import solve_triangular

from ...errors import ConvergenceWarning, DataError, FamilyError, OptionsError
from ...errors import SingularFitWarning
from ...linalg import single_threaded_blas
from ...results import Estimates, Fit, FitInfo
from ...spec import ModelSpec
from .gradient import CANONICAL
from .optimize import fd_hessian, fd_hessian_from_gradient, minimize_bounded, minimize_newton
from .options import LaplaceOptions
from .pirls import GlmmObjective, PirlsResult, glm_start
from .pls import LmmObjective, fixed_part, lmm_deviance
from .results import build_idata, draw_latent, term_estimates
from .start import glmm_start, lmm_start
from .state import LaplaceProblem, SolverState, laplace_problem, new_state

__all__ = ["fit", "SINGULAR_TOL"]

# lme4's isSingular(): a diagonal entry of some T_k below this is "on the boundary".
SINGULAR_TOL = 1e-4
_LINKS = {"gaussian": ("identity",), "bernoulli": ("logit", "probit", "cloglog"),
          "binomial": ("logit", "probit", "cloglog"), "poisson": ("log",)}
_OPTIMIZER_NAMES = {"cobyqa": "COBYQA (scipy)", "lbfgsb": "L-BFGS-B (scipy)",
                    "powell": "Powell (scipy)"}
_GRADIENT_OPTIMIZER = "Newton with analytic gradient and average information"


def _check_model(spec: ModelSpec, options: LaplaceOptions) -> None:
    design = spec.design
    fam = design.family
    if fam.name == "ordinal":
        raise FamilyError(
            "the laplace backend does not fit the ordinal (cumulative logit) family; use "
            "backend='map' (fixed covariance) or backend='nuts' (full Bayes)"
        )
    if fam.link.name not in _LINKS.get(fam.name, ()):
        raise FamilyError(
            f"the laplace backend fits the {fam.name} family with the "
            f"{' / '.join(_LINKS[fam.name])} link, not {fam.link.name!r}"
        )
    if options.reml and fam.name != "gaussian":
        raise OptionsError(
            f"reml=True applies to linear mixed models only (gaussian family), not {fam.name}; "
            "leave reml unset (the fit maximises the Laplace approximation of the likelihood)"
        )
    if not design.terms:
        raise DataError(
            f"the formula {design.formula!r} has no random-effects term such as (1 | group); "
            "the laplace backend fits mixed models"
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


def _not_converged_message(stage: str, nfev: int, detail: str) -> str:
    return (
        f"the optimizer did not converge ({stage}: {nfev} evaluations; {detail}); the estimates "
        "may not be at the optimum. Increase max_evals, try optimizer='powell', rescale the "
        "covariates, or simplify the random-effects part."
    )


def _n_draws(options: LaplaceOptions, pb: LaplaceProblem, messages: list[str]) -> int:
    wanted = options.draws
    if wanted == 0:
        return 1
    cap = max(1, options.max_stored // (pb.n + pb.q + pb.p))
    if wanted > cap:
        messages.append(
            f"idata holds {cap} draws instead of draws={wanted}: draws × (observations + "
            f"random effects) is capped at max_stored={options.max_stored:,} stored numbers "
            "(raise max_stored for more)"
        )
        return cap
    return wanted


def _finish(spec, state, options, *, method, theta, beta, beta_cov, sigma, u, RZX, RX,
            objective, converged, evaluations, messages, extra, timings) -> Fit:
    """Estimates, warnings, draws and the Fit (the state's factor must be at the mode)."""
    pb = state.problem
    design = spec.design
    start = time.perf_counter()
    scale = sigma if sigma is not None else 1.0
    inv_blocks = state.factor.inverse_diag_blocks(pb.blocks)
    terms = term_estimates(pb, theta, u, scale, inv_blocks)
    estimates = Estimates(beta=beta, beta_cov=beta_cov, sigma=sigma, terms=terms,
                          theta=theta.copy())
    singular = _singular_message(design, theta)
    if singular:
        messages.insert(0, singular)
        warnings.warn(singular, SingularFitWarning, stacklevel=4)
    if not converged:
        for m in messages:
            if m.startswith("the optimizer did not converge") or m.startswith("PIRLS"):
                warnings.warn(m, ConvergenceWarning, stacklevel=4)
    rng = np.random.default_rng(options.seed)
    S = _n_draws(options, pb, messages)
    if options.draws == 0:
        beta_draws, u_draws = beta[None].copy(), u[None].copy()
    else:
        beta_draws, u_draws = draw_latent(state, beta, u, RZX, RX, scale, S, rng)
    loglik = -0.5 * objective
    df = pb.p + design.n_theta + (1 if design.family.has_sigma else 0)
    attrs = {"method": method, "loglik": loglik, "theta": theta.tolist(),
             "draws": "mode only" if options.draws == 0 else S}
    idata = build_idata(spec, state, estimates, beta_draws, u_draws, attrs)
    timings = {**timings, "draws": time.perf_counter() - start}
    info = FitInfo(backend="laplace", method=method, converged=converged,
                   iterations=evaluations, messages=tuple(messages),
                   singular=singular is not None, loglik=loglik, df=df, timings=timings,
                   extra={"theta": theta.tolist(), "objective": objective,
                          "optimizer": (_GRADIENT_OPTIMIZER
                                        if extra.get("gradient") == "analytic"
                                        else _OPTIMIZER_NAMES[options.optimizer]),
                          "factorization": f"{state.factor.method} "
                                           f"({state.factor.ordering} order)",
                          **extra})
    return Fit(spec=spec, idata=idata, info=info, estimates=estimates)


def _optimize(obj, x0, lower, options: LaplaceOptions, initial_step: float = 0.5):
    return minimize_bounded(obj, x0, lower, method=options.optimizer, ftol=options.ftol,
                            xtol=options.xtol, max_evals=options.max_evals,
                            initial_step=initial_step)


def _fit_lmm(spec: ModelSpec, options: LaplaceOptions) -> Fit:
    design = spec.design
    reml = True if options.reml is None else options.reml
    pb = laplace_problem(design, options.factorization)
    state = new_state(pb)
    obj = LmmObjective(state, reml)
    start = time.perf_counter()
    theta0 = lmm_start(pb)
    # See LaplaceOptions.gradient: the gradient pays on the blocked factorization only.
    use_gradient = (options.gradient is True
                    or (options.gradient == "auto" and state.factor.method == "blocked"))
    if use_gradient:
        # Unbounded: the objective is even in the sign of each column of T_k; the signs are
        # normalised afterwards (and entries that end near 0 put on the boundary).
        # No secant correction: the average information of an LMM is close to its Hessian
        # (see optimize._secant_correction for the measurements).
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
    value = lmm_deviance(sol, pb.n, pb.p, reml, pb.log_weights_sum)
    sigma = obj.sigma(sol)
    timings = {"optimize": time.perf_counter() - start}
    messages = [] if opt.converged else [
        _not_converged_message("θ", opt.nfev, opt.message)]
    RXinv = solve_triangular(sol.RX, np.eye(len(sol.beta))) if len(sol.beta) else sol.RX
    return _finish(spec, state, options, method="REML" if reml else "ML", theta=opt.x,
                   beta=sol.beta, beta_cov=sigma**2 * RXinv @ RXinv.T, sigma=sigma,
                   u=sol.u, RZX=sol.RZX, RX=sol.RX, objective=value,
                   converged=opt.converged, evaluations=state.evaluations,
                   messages=messages,
                   extra={"gradient": "analytic" if use_gradient else "none",
                          "devcomp": {"ldL2": sol.ldL2, "ldRX2": sol.ldRX2,
                                      "wrss": sol.wrss, "ussq": sol.ussq,
                                      "pwrss": sol.pwrss}},
                   timings=timings)


def _mode_system(state: SolverState, res: PirlsResult):
    """R_ZX and R_X of the (u, β) system at the PIRLS mode (factor already at its weights)."""
    pb = state.problem
    RZX, RX, _ = fixed_part(state, pb.X * res.w[:, None], np.zeros(pb.q), np.zeros(pb.p))
    return RZX, RX


def _cov_from_rx(RX: np.ndarray) -> np.ndarray:
    RXinv = solve_triangular(RX, np.eye(RX.shape[0])) if RX.size else RX
    return RXinv @ RXinv.T


def _canonical(design, state: SolverState, x: np.ndarray) -> np.ndarray:
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


def _fit_glmm(spec: ModelSpec, options: LaplaceOptions) -> Fit:
    design = spec.design
    start = time.perf_counter()
    pb = laplace_problem(design, options.factorization)
    state = new_state(pb)
    state.beta = glm_start(pb)
    n_theta = design.n_theta
    fam = design.family
    use_gradient = (options.nagq == 1 and options.gradient in ("auto", True)
                    and (fam.name, fam.link.name) in CANONICAL)
    messages: list[str] = []
    extra: dict = {}
    timings: dict = {}
    obj0 = GlmmObjective(state, 0, options.pirls_tol, options.pirls_max_iter)
    theta = glmm_start(pb, obj0.kernel, state.beta)
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
    if options.nagq == 1:
        start = time.perf_counter()
        beta0 = res.beta
        scale = np.sqrt(np.clip(np.diag(_cov_from_rx(res.RX)), 1e-300, None))
        obj1 = GlmmObjective(state, 1, options.pirls_tol, options.pirls_max_iter)
        jac = np.concatenate([np.ones(n_theta), scale])

        def full(x):
            return np.concatenate([x[:n_theta], beta0 + scale * x[n_theta:]])

        def scaled(x):
            return obj1(full(x))

        def scaled_grad(x):
            f, g = obj1.value_and_grad(full(x))
            return f, g * jac

        def scaled_derivatives():
            g, H = obj1.derivatives()
            return g * jac, H * np.outer(jac, jac)

        x0 = np.concatenate([theta, np.zeros(pb.p)])
        lower = np.concatenate([design.theta_lower, np.full(pb.p, -np.inf)])
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
        if obj1.last_x is None or not np.array_equal(obj1.last_x, full(opt1.x)):
            scaled(opt1.x)
        value = obj1.last_value
        res = obj1.last
        theta = opt1.x[:n_theta]
        converged = converged and opt1.converged
        if not opt1.converged:
            messages.append(_not_converged_message("Laplace stage over (θ, β)", opt1.nfev,
                                                   opt1.message))
        extra["evaluations_laplace"] = opt1.nfev
        extra["gradient"] = "analytic" if use_gradient else "none (derivative-free)"
        timings["optimize_laplace"] = time.perf_counter() - start
    if not res.converged or obj0.pirls_failures:
        converged = False
        messages.append("PIRLS did not converge at some parameter values; the Laplace "
                        "deviance there is approximate. Rescale the covariates or simplify the "
                        "model.")
    RZX, RX = _mode_system(state, res)
    beta, u = res.beta.copy(), res.u.copy()
    # The idata draws and conditional SDs need the factor at the mode: pack before the
    # Hessian evaluations move the state.
    fit = _finish(spec, state, options,
                  method="Laplace" if options.nagq == 1 else "nAGQ=0", theta=theta.copy(),
                  beta=beta, beta_cov=_cov_from_rx(RX), sigma=None, u=u, RZX=RZX, RX=RX,
                  objective=value, converged=converged, evaluations=state.evaluations,
                  messages=messages, extra=extra, timings=timings)
    if options.nagq == 1 and options.hessian and pb.p:
        grad = (lambda x: scaled_grad(x)[1]) if use_gradient else None
        fit = _with_hessian_vcov(fit, scaled, grad, opt1.x, value, scale, n_theta)
    return fit


def _with_hessian_vcov(fit: Fit, fun, grad, x, value, scale, n_theta) -> Fit:
    """β̂'s covariance as lme4: 2 (H⁻¹)_ββ, H the Hessian of the deviance over (θ, β)."""
    start = time.perf_counter()
    if grad is not None:
        # Forward differences of the analytic gradient (see fd_hessian_from_gradient): steps
        # of 2e-5 in θ (order 1) and in standard errors of β.
        H = fd_hessian_from_gradient(grad, x, np.full(len(x), 2e-5))
    else:
        # Central differences of the objective (lme4's scheme): steps 1e-3 in θ and 1e-2
        # standard errors in β; the objective is smooth to ~1e-10 (tight PIRLS), so the
        # differences are accurate to ~1e-4 relative.
        step = np.concatenate([np.full(n_theta, 1e-3), np.full(len(scale), 1e-2)])
        H = fd_hessian(fun, x, step, f0=value)
    messages = list(fit.info.messages)
    try:
        np.linalg.cholesky(H)
        cov_scaled = 2.0 * np.linalg.inv(H)[n_theta:, n_theta:]
        beta_cov = cov_scaled * np.outer(scale, scale)
        method = "hessian"
    except np.linalg.LinAlgError:
        beta_cov = fit.estimates.beta_cov
        method = "pirls"
        messages.append("the Hessian of the Laplace deviance is not positive definite at the "
                        "estimate; standard errors of β come from the PIRLS system at θ̂ "
                        "(they ignore the uncertainty of θ̂)")
    estimates = dataclasses.replace(fit.estimates, beta_cov=beta_cov)
    info = dataclasses.replace(
        fit.info, messages=tuple(messages),
        timings={**fit.info.timings, "hessian": time.perf_counter() - start},
        extra={**fit.info.extra, "beta_cov": method},
    )
    return dataclasses.replace(fit, estimates=estimates, info=info)


def fit(spec: ModelSpec, options: LaplaceOptions) -> Fit:
    """Fit a mixed model by the Laplace method at the mode (flat priors: lme4's estimates)."""
    _check_model(spec, options)
    with single_threaded_blas():
        if spec.design.family.has_sigma:
            return _fit_lmm(spec, options)
        return _fit_glmm(spec, options)
