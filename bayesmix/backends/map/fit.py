"""``fit(spec, options)`` of the map backend: covariance → layout → Newton → uncertainty → Fit."""

from __future__ import annotations

import dataclasses
import time
import warnings

import numba as nb
import numpy as np
from scipy import special
from threadpoolctl import threadpool_limits

from ...errors import BayesmixWarning, ConvergenceWarning, FamilyError
from ...families import kernels as fk
from ...latent import newton
from ...latent.rows.gaussian import draw, uncertainty
from ...latent.rows.layout import make_layout
from ...latent.rows.system import Hessian, Problem, RowsSystem, make_chunks, new_state
from ...progress import stages
from ...results import Estimates, Fit, FitInfo
from ...results.storage import default_draws
from ...spec import ModelSpec
from ..estimability import check_estimable, separated, separation_message
from . import packing
from .covariance import resolve_covariance
from .options import MapOptions

__all__ = ["fit_map"]

# With a large crossed term every block of (up to 8) draws costs a CG solve: one block.
_DRAWS_ITERATIVE = 8
# Below this many rows a fit runs on one thread: waking a thread team for every kernel costs
# more than the work it shares.
_PARALLEL_ROWS = 100_000


def _check_family(family) -> None:
    # Newton on the exact Hessian: canonical links, the ordinal family (its cumulative logit
    # / probit is log-concave in (α, η)), and the families with fixed dispersion or shape
    # parameters (their observed information is used, clipped at 0 in rows where it is
    # negative).
    if not (family.is_canonical or family.name == "ordinal" or family.kernel_parameters
            or family.zero_inflated):
        raise FamilyError(
            f"the 'map' backend fits canonical links (gaussian identity, bernoulli/binomial "
            f"logit, poisson log), the ordinal family, the families with a dispersion "
            f"parameter and the zero-inflated ones, not {family.name} with the {family.link.name!r} link; use "
            "backend='laplace' or backend='nuts' for it"
        )


def _priors(spec: ModelSpec, P: int, n_alpha: int) -> tuple[np.ndarray, np.ndarray]:
    mean, prec = np.zeros(P), np.zeros(P)
    P0 = n_alpha + spec.design.p
    prec[P0:] = 1.0
    priors = [spec.cutpoints_prior] * n_alpha + spec.beta_priors()
    for k, prior in enumerate(priors):
        moments = prior.normal_moments()
        if moments is not None:
            mean[k], prec[k] = moments[0], 1.0 / moments[1] ** 2
    return mean, prec


def _loglik_constant(design, sigma) -> float:
    """−Σ log p(y_i|η_i) minus the kernels' f_i, which leave these constants out."""
    w = np.ones(design.n) if design.weights is None else design.weights
    family, _ = fk.codes(design.family)
    if design.family.has_sigma:
        pos = w > 0
        # The lognormal's Jacobian −log y is a row constant, unweighted (as the density's).
        jac = -float(np.sum(fk.row_constants(family, design.y, None)[pos]))
        return float(np.sum(0.5 * np.log(2 * np.pi * sigma**2) - 0.5 * np.log(w[pos]))) + jac
    return float(-np.sum(w * fk.row_constants(family, design.y, design.trials)))


def _start(design, P: int, n_alpha: int) -> np.ndarray:
    """β = 0 but the intercept at the link of the mean response; cutpoints at the logits of
    the cumulative proportions."""
    gam = np.zeros(P)
    y = design.y
    w = np.ones(design.n) if design.weights is None else design.weights
    off = 0.0 if design.offset is None else design.offset
    fam = design.family.count_family.name
    if fam == "ordinal":
        counts = np.bincount(y.astype(np.int64), weights=w, minlength=n_alpha + 1)
        cum = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 1e-4, 1 - 1e-4)
        quantile = special.logit if design.family.link.name == "logit" else special.ndtri
        alpha = quantile(cum)
        gam[:n_alpha] = alpha + 1e-3 * np.arange(n_alpha)
        return gam
    if "(Intercept)" not in design.x_names:
        return gam
    k = n_alpha + design.x_names.index("(Intercept)")
    if fam in ("gaussian", "lognormal", "student_t") and design.family.link.name == "identity":
        z = np.log(y) if fam == "lognormal" else y
        gam[k] = np.average(z - off, weights=w) if w.sum() > 0 else 0.0
    elif fam in ("gaussian", "negbinomial", "negbinomial1", "gamma", "beta"):
        mean = np.average(y, weights=w) if w.sum() > 0 else 1.0
        if fam == "beta":
            mean = np.clip(mean, 1e-6, 1 - 1e-6)
        gam[k] = float(design.family.link.link(np.array(max(mean, 1e-6)))) - np.mean(off)
    elif fam in ("bernoulli", "binomial"):
        N = np.ones(design.n) if design.trials is None else design.trials
        pbar = np.clip(np.sum(w * y) / max(np.sum(w * N), 1e-300), 1e-6, 1 - 1e-6)
        gam[k] = special.logit(pbar) - np.mean(off)
    elif fam == "poisson":
        expo = np.sum(w * np.exp(np.clip(off, -700, 700)))
        gam[k] = np.log(max(np.sum(w * y), 1e-6) / expo)
    return gam


def _n_draws(options: MapOptions, q: int, P: int, iterative: bool) -> int:
    chains = options.chains or 1
    n = default_draws(options.draws, chains, q, P)
    if options.draws is None and iterative:
        n = min(n, _DRAWS_ITERATIVE)
    return n


def _add_correction(est: Estimates, correction) -> Estimates:
    """Estimates with Var(b) += the Rao–Blackwell correction (see uncertainty.draw)."""
    terms = tuple(dataclasses.replace(te, b_sd=np.sqrt(te.b_sd**2 + c))
                  for te, c in zip(est.terms, correction))
    return dataclasses.replace(est, terms=terms)


def _singular(covs) -> list[int]:
    out = []
    for k, c in enumerate(covs):
        vals = np.linalg.eigvalsh(c)
        if vals[0] <= 1e-12 * max(vals[-1], np.finfo(float).tiny):
            out.append(k)
    return out


def fit_map(spec: ModelSpec, options: MapOptions) -> Fit:
    """The MAP of (cutpoints, β, b) at a fixed covariance, with its Gaussian uncertainty.

    The dense algebra here is small (the Schur block, per-level blocks are in numba), and
    BLAS threads competing with numba's for the same cores slow it down by orders of
    magnitude, so BLAS runs single-threaded meanwhile; small data sets run numba on one
    thread too.
    """
    threads = nb.get_num_threads()
    if spec.design.n < _PARALLEL_ROWS:
        nb.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _fit_map(spec, options)
    finally:
        nb.set_num_threads(threads)


def _fit_map(spec: ModelSpec, options: MapOptions) -> Fit:
    design = spec.design
    _check_family(design.family)
    check_estimable(spec)
    clock = _Clock()
    cov = resolve_covariance(design, options.covariance, options.sigma,
                             {**spec.constants(), **(options.family_params or {})} or None,
                             options.zi_coef)
    zeta = None if cov.zi_coef is None else design.X_zi @ cov.zi_coef
    layout = make_layout(design, cov.factors, options.dense_max, zeta)
    n_alpha, P = layout.n_alpha, layout.P
    mean, prec = _priors(spec, P, n_alpha)
    family, link = fk.codes(design.family)
    problem = Problem(
        layout=layout, family_code=family, link_code=link,
        sigma2=1.0 if cov.sigma is None else cov.sigma**2,
        family_params=np.array(list((cov.family_params or {}).values()), dtype=float),
        prior_mean=mean, prior_prec=prec,
        const=_loglik_constant(design, cov.sigma), chunks=make_chunks(layout, P),
        cg_chunks=make_chunks(layout, P, per_thread=2),
    )
    st = new_state(problem, _start(design, P, n_alpha))
    clock.lap("layout")
    system = RowsSystem(problem, st, options.cg_max_iter)
    info = newton(system, system.point(), tol=options.tol, max_iter=options.max_iter,
                  max_halvings=40)
    if info.iterations == 0 and not np.isfinite(info.F):
        raise FloatingPointError(
            "the objective is not finite at the starting values (an offset so large that "
            "exp(η) overflows?)"
        )
    clock.lap("optimize")

    H = Hessian(problem, st)
    unc = uncertainty(problem, st, H, cov.factors, design.terms, options.cg_tol,
                      options.cg_max_iter)
    est = Estimates(
        beta=st.gam[n_alpha:layout.P0].copy(), beta_cov=unc.gamma0_cov[n_alpha:, n_alpha:],
        sigma=cov.sigma,
        terms=packing.term_estimates(design, cov.covariances,
                                     _modes(design, layout, st, cov), unc.b_var),
        cutpoints=st.gam[:n_alpha].copy() if n_alpha else None,
        cutpoints_cov=unc.gamma0_cov[:n_alpha, :n_alpha] if n_alpha else None,
        theta=design.theta_from_covariances(list(cov.covariances),
                                            1.0 if cov.sigma is None else cov.sigma),
        family_params=cov.family_params, zi_coef=cov.zi_coef,
    )
    clock.lap("uncertainty")

    chains = options.chains or 1
    n_draws = _n_draws(options, design.q, P, problem.iterative) if options.draws != 0 else 0
    posterior, cg_draws = None, 0
    if n_draws:
        gam_draws, b_draws, cg_draws, correction = draw(
            problem, st, H, cov.factors, design.terms, chains * n_draws,
            np.random.default_rng(options.seed), np.sqrt(options.cg_tol),
            options.cg_max_iter)
        if correction is not None:
            est = _add_correction(est, correction)
        posterior = packing.posterior(spec, est, gam_draws, b_draws, n_alpha, chains)
    clock.lap("draws")

    singular = _singular(cov.covariances)
    b_sd_note = ("exact diagonal blocks of H^-1" if unc.exact_b_sd else
                 f"diagonal blocks of H^-1: exact within each term's own block plus a "
                 f"Rao-Blackwellised Monte Carlo estimate of the coupling between terms from "
                 f"the {chains * n_draws} draws")
    solver = "pcg" if problem.iterative else ("schur+dense" if layout.dense else "schur")
    grad = st.flat_gradient()
    extra = {
        "objective": st.F, "grad_norm": float(np.max(np.abs(grad))) if grad.size else 0.0,
        "newton_decrement": info.decrement, "passes": info.evaluations,
        "step_halvings": info.halvings, "solver": solver,
        "terms": {"primary": design.terms[layout.primary].label,
                  "dense": [design.terms[k].label for k in layout.dense],
                  "iterative": [design.terms[k].label for k in layout.iterative]},
        "cg_iterations": tuple(system.cg_iterations),
        "cg_iterations_uncertainty": unc.cg_iterations, "cg_iterations_draws": cg_draws,
        "b_sd": b_sd_note, "draws": n_draws, "threads": nb.get_num_threads(),
        "chunks": len(problem.chunks) - 1,
        "loglik": "conditional log-likelihood log p(y | beta, b) at the mode",
    }
    fit_info = FitInfo(
        backend="map", method="MAP", converged=info.converged, iterations=info.iterations,
        messages=_messages(spec, info, options, singular, est), singular=bool(singular),
        loglik=-st.F_data, loglik_label="conditional log-likelihood log p(y | β̂, b̂)",
        df=None, timings=clock.laps, extra=extra,
    )
    attrs = {"draws": n_draws, "b_sd": b_sd_note,
             "seed": -1 if options.seed is None else options.seed}
    return packing.pack(spec, fit_info, approximation=_approximation(problem, cov, options),
                        inference="mode", posterior=posterior, estimates=est,
                        log_likelihood=options.log_likelihood, attrs=attrs)


class _Clock:
    """Seconds per stage, for FitInfo.timings, each stage reported by the progress lines."""

    _NEXT = {"layout": "optimize", "optimize": "uncertainty", "uncertainty": "draws"}

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()
        self._stages = stages()
        self._stages.next("layout")

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now
        if name in self._NEXT:
            self._stages.next(self._NEXT[name])
        else:
            self._stages.close()


def _modes(design, layout, st, cov) -> list[np.ndarray]:
    """b̂ = T û per term, in design order, from wherever the term's u lives in the state."""
    out: list[np.ndarray] = [None] * len(design.terms)
    out[layout.primary] = st.u1 @ cov.factors[layout.primary].T
    for source, offsets, terms in ((st.gam, layout.d_offsets, layout.dense),
                                   (st.v, layout.t_offsets, layout.iterative)):
        for s, k in enumerate(terms):
            t = design.terms[k]
            u = source[offsets[s]:offsets[s + 1]].reshape(t.m, t.r)
            out[k] = u @ cov.factors[k].T
    return out


def _approximation(problem, cov, options) -> str:
    how = ""
    if problem.iterative:
        how = (f"; draws by perturbation (x = H^-1 eps, eps ~ N(0, H), conjugate gradients to "
               f"relative residual {np.sqrt(options.cg_tol):g})")
    fixed = [name for name, on in (("sigma", cov.sigma is not None),
                                   ("the family's parameters", bool(cov.family_params)),
                                   ("the zero-inflation coefficients", cov.zi_coef is not None))
             if on]
    return packing.APPROXIMATION.format(
        sigma="".join(f" and {name}" for name in fixed),
        sigma_name="".join(f", {name.replace('the ', '')}" for name in fixed), how=how)


def _messages(spec, info, options, singular, est) -> tuple[str, ...]:
    """What the user should read, each also warned where it is a problem."""
    design = spec.design
    messages = []
    separated_ = separated(spec, est.beta)
    if separated_:
        messages.append(separation_message(separated_))
        warnings.warn(messages[-1], ConvergenceWarning, stacklevel=5)
    if not info.converged:
        messages.append(
            f"Newton did not converge: {info.message}; the Newton decrement at the last "
            f"point was {info.decrement:.2g} (tol {options.tol:g}). Increase max_iter, or "
            "check for separation (a fixed effect growing without bound) and give it a "
            "Normal prior"
        )
        warnings.warn(messages[-1], ConvergenceWarning, stacklevel=5)
    ignored = [k for k, src in spec.sources.items() if src == "user"
               and (k.startswith(("sd(", "cor(", "zi_")) or k in ("sigma", "phi", "nu"))]
    if ignored:
        messages.append(
            f"priors on {', '.join(ignored)} have no effect: the map backend holds the "
            "covariance (and sigma, phi, nu, the zero-inflation coefficients) fixed at the "
            "given values"
        )
        warnings.warn(messages[-1], BayesmixWarning, stacklevel=5)
    for k in singular:
        messages.append(
            f"the given covariance of term {design.terms[k].label!r} is singular: its random "
            "effects are confined to a subspace (some combinations are exactly 0)"
        )
    return tuple(messages)
