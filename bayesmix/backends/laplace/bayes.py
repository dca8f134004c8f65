"""The Bayesian Laplace fit: the posterior of everything from the sparse factor.

1. L(φ) = log p̃(y | ψ) + log p(φ) (:mod:`.marginal`) is maximised, with its curvature H at
   the mode (:mod:`.posterior_mode`).
2. p(φ | y) is integrated on weighted points in the standardized coordinates of H
   (:mod:`.integrate`: grid, quasi-Monte Carlo importance sampling, or NUTS over φ).
3. At each point, while the factor is there, draws of x = (β, u) | ψ, y from its Gaussian
   (:meth:`.marginal.LaplaceMarginal.draw`); a pool of such draws is resampled by the
   points' weights into the posterior draws, each carrying its own ψ (SDs, correlations, σ).

The InferenceData holds draws of every parameter under the shared names, the pointwise
log-likelihood (storage policy permitting), per draw the index and log weight of its point
(``sample_stats``), and the integration's diagnostics in attrs.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
from ...errors import ConvergenceWarning, OptionsError, PriorError
from ...latent import latent_field, new_state
from ...linalg import single_threaded_blas
from ...progress import stages
from ...results import FitInfo
from ...results.adapter import pack
from ...results.storage import default_draws
from . import integrate
from .hyper import HyperSpace
from .marginal import LaplaceMarginal
from .options import LaplaceOptions
from .pool import DrawPool, posterior_draws, systematic
from .posterior_mode import find_mode, start_phi

__all__ = ["fit_bayes"]

# Automatic number of importance points: as many as about this many seconds of evaluations
# allow, within [64, 1024].
_POINTS_SECONDS = 3.0
_POINTS_RANGE = (64, 1024)


def _auto_points(seconds_per_eval: float) -> int:
    n = _POINTS_SECONDS / max(seconds_per_eval, 1e-6)
    n = int(np.clip(n, *_POINTS_RANGE))
    return 2 ** int(np.floor(np.log2(n)))


def _seconds_per_point(marginal: LaplaceMarginal, phi_hat: np.ndarray,
                       S: np.ndarray) -> float:
    """Time of one evaluation of L half a standard deviation from the mode (the warm start
    an integration point gets), median of three."""
    times = []
    for j in range(min(3, len(phi_hat))):
        start = time.perf_counter()
        marginal(phi_hat + 0.5 * S[:, -1 - j])
        times.append(time.perf_counter() - start)
    marginal(phi_hat)
    return float(np.median(times)) if times else 0.0


# NUTS over φ (integrate="nuts"): draws of φ in all unless psi_points says, and the
# warm-up per chain; "auto" turns to it when the importance weights fail and it is predicted
# to take at most this long (leapfrog steps per draw and the gradient's cost in evaluations
# of L are typical values).
_NUTS_PSI_DRAWS = 1000
_NUTS_TUNE = 300
_AUTO_NUTS_SECONDS = 120.0
_STEPS_PER_DRAW = 8


def _nuts_psi_draws(options: LaplaceOptions, chains: int) -> int:
    return max(1, int(np.ceil((options.psi_points or _NUTS_PSI_DRAWS) / chains)))


def _nuts_seconds(marginal: LaplaceMarginal, options: LaplaceOptions, chains: int,
                  seconds: float) -> float:
    per_chain = _nuts_psi_draws(options, chains)
    gradient = 3.0 if marginal.analytic_gradient else 2.0 * marginal.hyper.dim
    iterations = chains * (max(_NUTS_TUNE, per_chain) + per_chain)
    return seconds * (iterations * _STEPS_PER_DRAW * gradient + chains * per_chain)


def _integrate(method: str, marginal: LaplaceMarginal, phi_hat: np.ndarray, S: np.ndarray,
               options: LaplaceOptions, chains: int, draws: int, rng, seconds: float):
    """Weighted points of p(φ | y) by ``method`` in the coordinates φ = φ̂ + S z, and the
    pool of field draws made at them (enough per point for ``chains × draws`` posterior
    draws)."""
    total = chains * draws
    d = len(phi_hat)
    if method == "grid":
        try:
            points = integrate.grid(marginal, phi_hat, S, max_points=options.psi_max_points)
        except integrate.TooManyPoints as exc:
            raise OptionsError(
                f"integrate='grid' needs {exc.args[0]:,} points for {d} covariance "
                f"parameters (its points grow as steps^{d}), more than psi_max_points="
                f"{options.psi_max_points}: use integrate='importance' (the default) or "
                "raise psi_max_points") from None
        # The weights are known before any draw: each point gets its systematic share of
        # the draws, made at a second evaluation there.
        pool = DrawPool(marginal, 0, rng)
        chosen = systematic(np.exp(points.log_weights), total, rng)
        for k, count in enumerate(np.bincount(chosen, minlength=len(points.phi))):
            if count:
                marginal(points.phi[k])
                pool.add(k, int(count))
        return points, pool
    if method == "importance":
        n = options.psi_points or _auto_points(seconds)
        pool = DrawPool(marginal, max(1, int(np.ceil(total / n))), rng)
        points = integrate.importance(marginal, pool, phi_hat, S, n,
                                      seed=rng.integers(2**32),
                                      max_points=max(2 * n, options.psi_max_points))
        return points, pool
    per_chain = _nuts_psi_draws(options, chains)
    pool = DrawPool(marginal, max(1, int(np.ceil(total / (chains * per_chain)))), rng)
    points = integrate.nuts(marginal, marginal.gradient, pool, phi_hat, S, draws=per_chain,
                            chains=chains, tune=max(_NUTS_TUNE, per_chain),
                            seed=int(rng.integers(2**31)))
    return points, pool


def _weighted_quantile(values: np.ndarray, log_weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(np.exp(log_weights[order]))
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


# How far below its mode a log SD is taken to test whether the data alone put the SD at 0
# (an SD e^-12 ≈ 6e-6 times the mode's).
_TOWARDS_ZERO = 12.0


def _boundary_messages(marginal: LaplaceMarginal, hyper: HyperSpace,
                       points: integrate.Points, phi_hat: np.ndarray) -> list[str]:
    """SDs that the data alone put at 0, or whose posterior reaches down to ~0.

    At 0: the likelihood part of L (L − log p(φ)) is no lower with the SD near 0 than at the
    mode, the others held there — lme4's fit would be singular, and the posterior's mass
    near 0 is its prior's. Reaching down: the 5% quantile of log SD more than 3 below its
    mode (an SD 20 times smaller than the most probable one is still plausible)."""
    out = []
    top = marginal(phi_hat) - hyper.log_prior(phi_hat)
    for i, name in enumerate(hyper.names):
        if not name.startswith("log sd("):
            continue
        sd = name[len("log "):]
        low = phi_hat.copy()
        low[i] -= _TOWARDS_ZERO
        at_zero = marginal(low) - hyper.log_prior(low)
        q05 = _weighted_quantile(points.phi[:, i], points.log_weights, 0.05)
        if np.isfinite(at_zero) and at_zero >= top:
            out.append(
                f"the data alone put {sd} at 0 (its likelihood is no lower at 0 than at the "
                "posterior mode, where lme4's fit would be singular): how close to 0 its "
                f"posterior goes (5% quantile {np.exp(q05):.3g}) is decided by its prior. "
                "Check that prior's scale (one with density at 0, such as the default "
                "half-normal, lets it be 0), use integrate='nuts' (exact in the SDs), or drop "
                "the term if it is not needed.")
        elif q05 < phi_hat[i] - 3.0:
            out.append(
                f"the posterior of {sd} reaches down to 0 (its 5% quantile, {np.exp(q05):.3g}, "
                f"is below 1/20 of its mode, {np.exp(phi_hat[i]):.3g}): the data carry little "
                "information about it, so its prior decides how small it may be (the Gaussian "
                "approximation in log SD is least accurate there). Check that prior's scale, "
                "use integrate='nuts' (exact in the SDs), or drop the term if it is not needed."
            )
    return out


def _integration_messages(points: integrate.Points) -> tuple[list[str], bool]:
    messages, trusted = [], True
    diag = points.diagnostics
    khat = diag.get("pareto_khat")
    if khat is not None and khat > diag["khat_threshold"]:
        trusted = False
        predicted = diag.get("nuts_seconds_predicted")
        messages.append(
            f"the importance weights over the covariance parameters are unreliable (Pareto "
            f"k̂ = {khat:.2f} > {diag['khat_threshold']:.2f}): their posterior is far from "
            "the Student-t proposals built at its mode (strongly skewed, or several modes). "
            "Use integrate='nuts' (exact in the covariance parameters"
            + (f"; predicted to take about {predicted:.0f} s here" if predicted else "")
            + ") or backend='nuts'."
        )
    if points.method == "nuts":
        rhat = diag.get("max_rhat")
        if rhat is not None and rhat > 1.05:
            trusted = False
        if diag.get("divergences") or (rhat is not None and rhat > 1.01) \
                or diag["min_ess"] < 100:
            messages.append(
                f"NUTS over the covariance parameters: {diag['divergences']} divergent "
                f"transitions, largest R-hat {rhat if rhat is not None else float('nan'):.3f}, "
                f"smallest bulk ESS {diag['min_ess']:.0f}: the draws may be biased or too "
                "few; use more psi_points, or stronger priors on the SDs.")
    return messages, trusted


def fit_bayes(spec, options: LaplaceOptions):
    """The Bayesian Laplace fit of ``spec`` (see the module docstring)."""
    if spec.design.family.name == "ordinal":
        raise PriorError(
            "the laplace backend integrates the ordinal family's thresholds only with flat "
            "priors (priors='flat': ordinal::clmm's estimates); use backend='nuts' for "
            "priors on the ordinal family"
        )
    timings = {}
    clock = time.perf_counter()
    steps = stages()
    steps.next("posterior mode of the covariance parameters")
    with single_threaded_blas():
        field = latent_field(spec.design, options.factorization)
        state = new_state(field)
        hyper = HyperSpace(spec, with_beta=not spec.design.family.has_sigma)
        marginal = LaplaceMarginal(spec, hyper, state, pirls_tol=options.pirls_tol,
                                   pirls_max_iter=options.pirls_max_iter)
        phi0 = start_phi(spec, field, state, hyper)
        phi_hat, H, converged, messages, newton_steps = find_mode(marginal, phi0,
                                                                    options.max_evals)
        timings["mode"] = time.perf_counter() - clock
        clock = time.perf_counter()
        steps.next("integrate over them")
        chains = options.chains or 4
        draws = default_draws(options.draws, chains, field.q, field.p) \
            if options.draws != 0 else 0
        if draws == 0:
            raise PriorError("draws=0 (no draws) applies to flat priors only: the Bayesian "
                             "Laplace's result is its posterior draws")
        rng = np.random.default_rng(options.seed)
        # The weights need L to ~1e-6, not the rounding floor that the finite differences
        # of the mode search needed: λ² ≤ 1e-12 (1 + |F|) leaves an error of about λ²/2.
        marginal.pirls_tol = max(options.pirls_tol, 1e-12)
        S = integrate.standardize(H)
        seconds = _seconds_per_point(marginal, phi_hat, S)
        method = "importance" if options.integrate == "auto" else options.integrate
        points, pool = _integrate(method, marginal, phi_hat, S, options, chains, draws, rng,
                                  seconds)
        if options.integrate == "auto" and not _integration_messages(points)[1]:
            predicted = _nuts_seconds(marginal, options, chains, seconds)
            khat = points.diagnostics["pareto_khat"]
            if predicted <= _AUTO_NUTS_SECONDS:
                method = "nuts"
                points, pool = _integrate(method, marginal, phi_hat, S, options, chains,
                                          draws, rng, seconds)
                points.diagnostics["auto"] = (
                    f"importance sampling's Pareto k̂ was {khat:.2f}: integrated by NUTS "
                    "over the covariance parameters instead")
            else:
                points.diagnostics["nuts_seconds_predicted"] = predicted
        timings["integrate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        steps.next("draws")
        which, within = pool.resample(points.log_weights, chains * draws)
        posterior = posterior_draws(spec, pool, which, within, chains, draws)
    more, trusted = _integration_messages(points)
    messages += more + _boundary_messages(marginal, hyper, points, phi_hat)
    if marginal.pirls_failures > 0.01 * marginal.evaluations:
        messages.append(
            f"PIRLS did not converge at {marginal.pirls_failures} of "
            f"{marginal.evaluations} evaluations of the marginal (points far in the tails of "
            "the parameters' posterior, which got no weight); if many, rescale the "
            "covariates or use stronger priors.")
    for m in messages:
        warnings.warn(m, ConvergenceWarning, stacklevel=4)
    sample_stats = {
        "psi_point": np.asarray(pool.point)[which].reshape(chains, draws),
        "psi_log_weight": points.log_weights[np.asarray(pool.point)[which]].reshape(
            chains, draws),
    }
    timings["draws"] = time.perf_counter() - clock
    steps.close()
    diagnostics = {**points.diagnostics, "ess_points": points.ess,
                   "pirls_failures": marginal.pirls_failures,
                   "mode_phi": dict(zip(hyper.names, phi_hat.tolist())),
                   "mode_evaluations": newton_steps}
    ok = converged and trusted
    status = "not converged" if not ok else ("warnings" if messages else "converged")
    approximation = (
        f"Bayesian Laplace: covariance parameters integrated by {method} "
        f"({len(points.phi)} points); beta and b drawn from their Gaussian given each point "
        "(exact for the gaussian family, the Laplace approximation otherwise)"
    )
    info = FitInfo(backend="laplace", method=f"Bayesian Laplace ({method})", converged=ok,
                   status=status, messages=tuple(messages),
                   timings=timings,
                   extra={"integrate": method, "hyperparameters": hyper.names,
                          "evaluations": marginal.evaluations,
                          "diagnostics": diagnostics,
                          "factorization": f"{state.factor.method} ({state.factor.ordering})"})
    outer = (["sd_*", "cor_*", "sigma"] + list(hyper.family_names)
             + (["beta"] if hyper.beta_index is not None else [])
             + (["beta_zi"] if hyper.zi_index is not None else []))
    attrs = {"integrate": method, "psi_points": len(points.phi),
             "psi_ess": points.ess, "psi_variables": json.dumps(outer),
             "psi_diagnostics": json.dumps(diagnostics, default=float),
             "draws": draws, "chains": chains,
             "seed": -1 if options.seed is None else options.seed}
    return pack(spec, info, approximation=approximation, inference="posterior",
                posterior=posterior, sample_stats=sample_stats,
                log_likelihood=options.log_likelihood, attrs=attrs)
