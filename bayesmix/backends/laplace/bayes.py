"""The Bayesian Laplace fit: the posterior of everything from the sparse factor.

1. L(φ) = log p̃(y | ψ) + log p(φ) (:mod:`.marginal`) is maximised (Newton / BFGS steps on
   its gradient), with its Hessian H at the mode by finite differences of the gradient.
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
from ...errors import ConvergenceWarning, PriorError
from ...latent import latent_field, new_state, solve_pls
from ...linalg import single_threaded_blas
from ...results import FitInfo, naming
from ...results.adapter import pack
from ...results.storage import default_draws
from . import integrate
from .hyper import HyperSpace
from .marginal import LaplaceMarginal
from .optimize import minimize_newton
from .options import LaplaceOptions
from .start import glm_start, glmm_start, lmm_start

__all__ = ["fit_bayes"]

# Automatic number of importance points: as many as about this many seconds of evaluations
# allow, within [64, 1024].
_POINTS_SECONDS = 3.0
_POINTS_RANGE = (64, 1024)


def _auto_points(seconds_per_eval: float) -> int:
    n = _POINTS_SECONDS / max(seconds_per_eval, 1e-6)
    n = int(np.clip(n, *_POINTS_RANGE))
    return 2 ** int(np.floor(np.log2(n)))


def _start(spec, field, state, hyper: HyperSpace) -> np.ndarray:
    """φ from moment estimates of θ (and σ from the PLS solution there)."""
    if spec.design.family.has_sigma:
        theta = lmm_start(field)
        state.theta = theta
        from ...latent import set_theta

        sol = solve_pls(set_theta(state, theta))
        sigma = float(np.sqrt(sol.pwrss / max(field.n - field.p, 1)))
        return hyper.from_theta(theta, sigma)
    beta = glm_start(field)
    return hyper.from_theta(glmm_start(field, beta), None, beta)


def _hessian(marginal: LaplaceMarginal, phi: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """H = −∇²L at φ: forward differences of the analytic gradient (``g0`` at φ), or
    central second differences of L when the gradient is itself a difference. It only
    standardizes the integration, which corrects for its error (importance weights, NUTS)."""
    d = len(phi)
    H = np.empty((d, d))
    if marginal.analytic_gradient:
        h = 1e-4
        for j in range(d):
            e = np.zeros(d)
            e[j] = h
            H[:, j] = -(marginal.gradient(phi + e) - g0) / h
    else:
        h = 2e-3
        f0 = marginal(phi)
        for i in range(d):
            ei = np.zeros(d)
            ei[i] = h
            H[i, i] = -(marginal(phi + ei) - 2 * f0 + marginal(phi - ei)) / h**2
            for j in range(i):
                ej = np.zeros(d)
                ej[j] = h
                H[i, j] = H[j, i] = -(marginal(phi + ei + ej) - marginal(phi + ei - ej)
                                      - marginal(phi - ei + ej)
                                      + marginal(phi - ei - ej)) / (4 * h * h)
    marginal(phi)
    return 0.5 * (H + H.T)


def _mode(marginal: LaplaceMarginal, phi0: np.ndarray, max_evals: int):
    """φ̂ and H there, by Newton steps on −L with a backtracking line search
    (:func:`~.optimize.minimize_newton`). Curvature: the average information where the
    family has one (two passes over the rows per step; with the structured secant
    correction the steps converge superlinearly), else the finite-difference Hessian at φ₀
    updated by BFGS. The final curvature is the H the integration standardizes with (the
    importance weights correct what it misses); if it is not positive definite, the
    finite-difference Hessian replaces it."""
    phi = np.asarray(phi0, dtype=float)
    messages = []
    if marginal.curvature(phi) is not None:
        opt = minimize_newton(lambda x: -marginal(x),
                              lambda: (-marginal.gradient(marginal.last_phi),
                                       marginal.curvature(marginal.last_phi)),
                              phi, tol=1e-10, max_evals=max_evals)
        phi, H, converged, iterations = opt.x, opt.curvature, opt.converged, opt.nfev
        g = marginal.gradient(phi)
    else:
        phi, H, converged, iterations, g = _bfgs(marginal, phi, max_evals)
    H = 0.5 * (H + H.T)
    vals, vecs = np.linalg.eigh(H)
    if vals[0] <= 0:
        H = _hessian(marginal, phi, g)
        vals, vecs = np.linalg.eigh(H)
    if vals[0] <= 0:
        converged = False
        messages.append(
            "the log posterior of the covariance parameters is not concave at its mode (the "
            "Hessian has a non-positive eigenvalue): some combination of SDs / correlations is "
            "not identified by the data and its prior is too weak. Use stronger priors on the "
            "SDs, simplify the random-effects part, or use backend='nuts'."
        )
        H = (vecs * np.maximum(vals, 1e-3 * max(vals[-1], 1.0))) @ vecs.T
    elif not converged:
        messages.append(
            f"the mode of the covariance parameters' posterior was not reached in {max_evals} "
            "evaluations (max_evals); the integration starts from the last point. Increase "
            "max_evals or rescale the covariates."
        )
    marginal(phi)
    return phi, H, converged, messages, iterations


def _bfgs(marginal: LaplaceMarginal, phi: np.ndarray, max_evals: int):
    """Newton steps on the finite-difference Hessian at φ₀ updated by BFGS (the curvature
    of L changes little between the moment start and the mode)."""
    g = marginal.gradient(phi)
    value = marginal.last_value
    B = _hessian(marginal, phi, g)
    evals, converged, iterations = 1, False, 0
    while evals < max_evals:
        vals, vecs = np.linalg.eigh(0.5 * (B + B.T))
        step = vecs @ ((vecs.T @ g) / np.maximum(vals, 1e-8 * max(vals[-1], 1e-8)))
        decrement = float(g @ step)
        if decrement < 1e-10:
            converged = True
            break
        t = 1.0
        while evals < max_evals and t > 1e-8:
            trial = phi + t * step
            evals += 1
            if marginal(trial) >= value + 1e-4 * t * decrement:
                break
            t *= 0.5
        else:
            # No increase along the Newton direction: L is flat there to its rounding
            # (a sum over many rows), i.e. the mode to the precision of L.
            converged = decrement < 1e-4
            break
        g_new = marginal.gradient(trial)
        s_vec, y_vec = trial - phi, -(g_new - g)
        phi, g, value = trial, g_new, marginal.last_value
        iterations += 1
        if s_vec @ y_vec > 1e-12 * np.linalg.norm(s_vec) * np.linalg.norm(y_vec):
            Bs = B @ s_vec
            B = B - np.outer(Bs, Bs) / (s_vec @ Bs) + np.outer(y_vec, y_vec) / (s_vec @ y_vec)
    return phi, B, converged, iterations, g


def _seconds_per_point(marginal: LaplaceMarginal, phi_hat: np.ndarray, H: np.ndarray) -> float:
    """Time of one evaluation of L half a standard deviation from the mode (the warm start
    an integration point gets), median of three."""
    S = integrate.standardize(H)
    times = []
    for j in range(min(3, len(phi_hat))):
        start = time.perf_counter()
        marginal(phi_hat + 0.5 * S[:, -1 - j])
        times.append(time.perf_counter() - start)
    marginal(phi_hat)
    return float(np.median(times)) if times else 0.0


class _Pool:
    """Draws of (β, b, ψ) collected point by point, then resampled by the points' weights."""

    def __init__(self, marginal, per_point: int, rng):
        self.marginal, self.per_point, self.rng = marginal, per_point, rng
        self.beta, self.b, self.hyper, self.point = [], [], [], []

    def __call__(self, k: int) -> None:
        if not np.isfinite(self.marginal.last_value):
            return  # no posterior mass there: the point's weight is 0
        beta, b = self.marginal.draw(self.per_point, self.rng)
        self.beta.append(beta)
        self.b.append(b)
        self.hyper.append(self.marginal.last_hyper)
        self.point.append(k)

    def resample(self, log_weights: np.ndarray, total: int):
        """(point index per draw, draw index within its point) for ``total`` draws by
        systematic resampling: each pooled draw has weight w_k / (draws at point k)."""
        counts = np.array([len(b) for b in self.beta])
        w = np.repeat(np.exp(log_weights[self.point]) / counts, counts)
        w = w / w.sum()
        positions = (self.rng.random() + np.arange(total)) / total
        chosen = np.searchsorted(np.cumsum(w), positions)
        chosen = np.minimum(chosen, len(w) - 1)
        self.rng.shuffle(chosen)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        which = np.searchsorted(starts, chosen, side="right") - 1
        return which, chosen - starts[which]


def _posterior(spec, pool: _Pool, which, within, chains: int, draws: int):
    design = spec.design
    post = {naming.BETA: np.stack([pool.beta[k][j] for k, j in zip(which, within)])
            .reshape(chains, draws, design.p)}
    for t_idx, t in enumerate(design.terms):
        b = np.stack([pool.b[k][t_idx][j] for k, j in zip(which, within)])
        post[naming.b_var(t.label)] = b.reshape(chains, draws, t.m, t.r)
        sd = np.stack([pool.hyper[k].sds[t_idx] for k in which])
        post[naming.sd_var(t.label)] = sd.reshape(chains, draws, t.r)
        if t.correlated:
            cor = np.stack([pool.hyper[k].correlation(t_idx) for k in which])
            post[naming.cor_var(t.label)] = cor.reshape(chains, draws, t.r, t.r)
    if design.family.has_sigma:
        post[naming.SIGMA] = np.array([pool.hyper[k].sigma for k in which]).reshape(
            chains, draws)
    return post


def _weighted_quantile(values: np.ndarray, log_weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(np.exp(log_weights[order]))
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


def _boundary_messages(hyper: HyperSpace, points: integrate.Points,
                       phi_hat: np.ndarray) -> list[str]:
    """SDs whose posterior reaches down to ~0: the 5% quantile of log SD more than 3 below
    its mode (an SD 20 times smaller than the most probable one is still plausible)."""
    out = []
    for i, name in enumerate(hyper.names):
        if not name.startswith("log sd("):
            continue
        q05 = _weighted_quantile(points.phi[:, i], points.log_weights, 0.05)
        if q05 < phi_hat[i] - 3.0:
            sd = name[len("log "):]
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
    khat = points.diagnostics.get("pareto_khat")
    if khat is not None and khat > points.diagnostics["khat_threshold"]:
        trusted = False
        messages.append(
            f"the importance weights over the covariance parameters are unreliable (Pareto "
            f"k̂ = {khat:.2f} > {points.diagnostics['khat_threshold']:.2f}): their posterior "
            "is far from the Student-t proposals built at its mode (strongly skewed, or "
            "several modes). Use integrate='nuts' (exact in the covariance parameters) or "
            "backend='nuts'."
        )
    if points.method == "nuts" and points.diagnostics.get("divergences"):
        messages.append(
            f"{points.diagnostics['divergences']} divergent NUTS transitions over the "
            "covariance parameters: the draws may be biased; use stronger priors on the SDs."
        )
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
    with single_threaded_blas():
        field = latent_field(spec.design, options.factorization)
        state = new_state(field)
        hyper = HyperSpace(spec, with_beta=not spec.design.family.has_sigma)
        marginal = LaplaceMarginal(spec, hyper, state, pirls_tol=options.pirls_tol,
                                   pirls_max_iter=options.pirls_max_iter)
        phi0 = _start(spec, field, state, hyper)
        phi_hat, H, converged, messages, newton_steps = _mode(marginal, phi0, options.max_evals)
        timings["mode"] = time.perf_counter() - clock
        clock = time.perf_counter()
        chains = options.chains or 4
        draws = default_draws(options.draws, chains, field.q, field.p) \
            if options.draws != 0 else 0
        if draws == 0:
            raise PriorError("draws=0 (no draws) applies to flat priors only: the Bayesian "
                             "Laplace's result is its posterior draws")
        method = "importance" if options.integrate == "auto" else options.integrate
        d = hyper.dim
        rng = np.random.default_rng(options.seed)
        S = integrate.standardize(H)
        # The weights need L to ~1e-6, not to the rounding floor that the finite
        # differences of the mode search needed: one PIRLS step fewer per point.
        marginal.pirls_tol = max(options.pirls_tol, 1e-12)
        total = chains * draws
        n = options.psi_points or _auto_points(_seconds_per_point(marginal, phi_hat, H))
        if method == "grid":
            pool = _Pool(marginal, max(1, int(np.ceil(2 * total / 11**d))), rng)
            points = integrate.grid(marginal, pool, phi_hat, S)
        elif method == "importance":
            pool = _Pool(marginal, max(1, int(np.ceil(total / n))), rng)
            points = integrate.importance(marginal, pool, phi_hat, S, n,
                                          seed=rng.integers(2**32),
                                          max_points=max(2 * n, options.psi_max_points))
        else:
            pool = _Pool(marginal, 1, rng)
            points = integrate.nuts(marginal, marginal.gradient, pool, phi_hat, S,
                                    draws=draws, chains=chains, tune=draws,
                                    seed=int(rng.integers(2**31)))
        timings["integrate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        which, within = pool.resample(points.log_weights, total)
        posterior = _posterior(spec, pool, which, within, chains, draws)
    more, trusted = _integration_messages(points)
    messages += more + _boundary_messages(hyper, points, phi_hat)
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
    outer = ["sd_*", "cor_*", "sigma"] + (["beta"] if hyper.beta_index is not None else [])
    attrs = {"integrate": method, "psi_points": len(points.phi),
             "psi_ess": points.ess, "psi_variables": json.dumps(outer),
             "psi_diagnostics": json.dumps(diagnostics, default=float),
             "draws": draws, "chains": chains,
             "seed": -1 if options.seed is None else options.seed}
    return pack(spec, info, approximation=approximation, inference="posterior",
                posterior=posterior, sample_stats=sample_stats,
                log_likelihood=options.log_likelihood, attrs=attrs)
