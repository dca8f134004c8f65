"""Convergence diagnostics of the draws, and what to tell the user about them.

R-hat and effective sample sizes follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
"Rank-normalization, folding, and localization: an improved R-hat", Bayesian Analysis 16: the
rank-normalised split R-hat (maximum of the bulk and the folded-tail versions), the bulk ESS of
the rank-normalised split chains, and the tail ESS as the smaller ESS of the indicators of the
5% and 95% quantiles, each with Geyer's initial monotone sequence estimator. They give the
same numbers as ArviZ, but are computed for all parameters at once: ArviZ loops over
parameters in Python, which takes about a minute for the 20,000 random effects of a model
with 10,000 groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft, special, stats

__all__ = ["diagnostics", "rhat", "ess_bulk", "ess_tail", "assess", "Assessment",
           "CONVERGED", "WARNINGS", "NOT_CONVERGED", "RHAT_WARN", "RHAT_FAIL",
           "ESS_PER_CHAIN_MIN", "ESS_MIN", "DIVERGENT_FAIL"]

CONVERGED, WARNINGS, NOT_CONVERGED = "converged", "warnings", "not converged"
# Vehtari et al. (2021): R-hat below 1.01 and ESS above 100 per chain before trusting the
# summaries. A value between 1.01 and RHAT_FAIL is a warning (it happens by chance to one of
# many random effects in a healthy run of moderate length); above it the chains disagree.
RHAT_WARN = 1.01
RHAT_FAIL = 1.05
ESS_PER_CHAIN_MIN = 100
# Fewer effective draws than this for a population-level parameter (β, SD, correlation, σ,
# cutpoints) leave its mean with a Monte Carlo error above a tenth of its posterior SD.
ESS_MIN = 100
# More divergent transitions than this fraction of the draws: the sampler systematically
# misses part of the posterior; fewer are a warning.
DIVERGENT_FAIL = 0.01
_BLOCK_VALUES = 4_000_000  # parameters are processed in blocks of about this many draws


def _split(x: np.ndarray) -> np.ndarray:
    """(K, chain, draw) → (K, 2·chain, draw // 2); an odd middle draw is dropped."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, x.shape[2] - half:]], axis=1)


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise over all chains and draws: Φ⁻¹((rank − 3/8) / (S + 1/4))."""
    k, c, n = x.shape
    ranks = stats.rankdata(x.reshape(k, c * n), method="average", axis=1)
    return special.ndtri((ranks - 0.375) / (c * n + 0.25)).reshape(k, c, n)


def _rhat_basic(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.mean(np.var(x, axis=2, ddof=1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of every chain along the draw axis, by FFT."""
    n = x.shape[2]
    m = fft.next_fast_len(2 * n)
    f = fft.rfft(x - x.mean(axis=2, keepdims=True), n=m, axis=2)
    return fft.irfft(f * np.conjugate(f), n=m, axis=2)[:, :, :n] / n


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of (K, chain, draw) draws with Geyer's initial monotone sequence."""
    k, c, n = x.shape
    total = c * n
    acov = _autocov(x)
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (K, n)
    rho[:, 0] = 1.0
    # Pairs P_j = ρ_2j + ρ_2j+1 for the lags the estimator may reach (lag 2j+1 < n − 1).
    k_max = max(0, (n - 3) // 2)
    pairs = rho[:, 0:2 * k_max + 1:2] + rho[:, 1:2 * k_max + 2:2]  # (K, k_max + 1)
    # The sum stops at the first pair j ≥ 1 that is not positive (that pair's even lag kept).
    nonpos = pairs[:, 1:] <= 0
    if nonpos.shape[1]:
        first = np.where(nonpos.any(axis=1), nonpos.argmax(axis=1) + 1, k_max)
    else:
        first = np.zeros(k, dtype=np.intp)
    stop = np.where(pairs[:, 0] > 0, first, 0)
    monotone = np.minimum.accumulate(pairs, axis=1)
    csum = np.concatenate([np.zeros((k, 1)), np.cumsum(monotone, axis=1)], axis=1)
    rows = np.arange(k)
    last_even = rho[rows, 2 * stop]
    last_pair = pairs[rows, stop]
    tail = np.where(((stop >= 1) & (last_pair >= 0)) | (last_even > 0), last_even, 0.0)
    tau = np.maximum(-1.0 + 2.0 * csum[rows, stop] + tail, 1.0 / np.log10(total))
    out = total / tau
    constant = np.ptp(x.reshape(k, total), axis=1) < np.finfo(float).resolution
    out[constant] = total
    out[np.isnan(rho).any(axis=1) & ~constant] = np.nan
    return out


def _block_diagnostics(x: np.ndarray, which: tuple[str, ...]) -> dict[str, np.ndarray]:
    """R-hat / ESS bulk / ESS tail of a (K, chain, draw) block."""
    out = {}
    split = _split(x)
    if "rhat" in which or "ess_bulk" in which:
        z = _z_scale(split)
        if "ess_bulk" in which:
            out["ess_bulk"] = _ess(z)
        if "rhat" in which:
            if x.shape[1] < 2:
                out["rhat"] = np.full(x.shape[0], np.nan)
            else:
                flat = split.reshape(split.shape[0], -1)
                folded = np.abs(split - np.median(flat, axis=1)[:, None, None])
                out["rhat"] = np.fmax(_rhat_basic(z), _rhat_basic(_z_scale(folded)))
    if "ess_tail" in which:
        flat = x.reshape(x.shape[0], -1)
        tail = None
        for q in (0.05, 0.95):
            indicator = (x <= np.quantile(flat, q, axis=1)[:, None, None]).astype(float)
            e = _ess(_split(indicator))
            tail = e if tail is None else np.fmin(tail, e)
        out["ess_tail"] = tail
    return out


def diagnostics(x: np.ndarray, which=("rhat", "ess_bulk", "ess_tail")) -> dict[str, np.ndarray]:
    """R-hat, bulk and tail ESS of draws shaped (chain, draw, ...), per parameter.

    Returns a dict of arrays shaped like one draw; NaN where undefined (fewer than 4 draws,
    or R-hat of a single chain).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim < 2:
        raise ValueError("draws must have shape (chain, draw, ...)")
    shape = x.shape[2:]
    c, n = x.shape[:2]
    if n < 4:
        return {w: np.full(shape, np.nan) for w in which}
    flat = np.moveaxis(x.reshape(c, n, -1), 2, 0)  # (K, chain, draw)
    step = max(1, _BLOCK_VALUES // (c * n))
    parts = [_block_diagnostics(np.ascontiguousarray(flat[i:i + step]), tuple(which))
             for i in range(0, flat.shape[0], step)]
    return {w: np.concatenate([p[w] for p in parts]).reshape(shape) for w in which}


def rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of draws shaped (chain, draw, ...), per parameter."""
    return diagnostics(x, ("rhat",))["rhat"]


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk effective sample size of draws shaped (chain, draw, ...), per parameter."""
    return diagnostics(x, ("ess_bulk",))["ess_bulk"]


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail effective sample size (5% and 95% quantiles), per parameter."""
    return diagnostics(x, ("ess_tail",))["ess_tail"]


def _worst(name: str, values: np.ndarray, largest: bool, best: tuple[str, float]):
    """(label, value) of the most extreme finite entry, or ``best`` if that is worse."""
    v = np.where(np.isfinite(values), values, -np.inf if largest else np.inf)
    if v.size == 0:
        return best
    idx = np.unravel_index(np.argmax(v) if largest else np.argmin(v), v.shape)
    value = float(v[idx])
    if (value > best[1]) if largest else (value < best[1]):
        label = f"{name}[{','.join(map(str, idx))}]" if v.ndim else name
        return label, value
    return best


@dataclass(frozen=True)
class Assessment:
    """What the diagnostics say about a set of draws.

    Attributes
    ----------
    status : {"converged", "warnings", "not converged"}
        "not converged": R-hat above :data:`RHAT_FAIL` for some parameter, more than
        :data:`DIVERGENT_FAIL` of the draws divergent, or fewer than :data:`ESS_MIN`
        effective draws of a population-level parameter: the summaries cannot be trusted.
        "warnings": R-hat between :data:`RHAT_WARN` and :data:`RHAT_FAIL`, a few
        divergences, ESS below 100 per chain, or draws at the maximum tree depth: usable,
        with the caveats the messages give. "converged": none of these.
    messages : tuple of str
        One per problem, each saying what it means and what to do; those that make the
        fit "not converged" first.
    summary : dict
        The worst R-hat and ESS with their parameters, divergences, tree-depth hits.
    """

    status: str
    messages: tuple[str, ...]
    summary: dict


def _is_population(label: str) -> bool:
    """β, SDs, correlations, σ, cutpoints: everything but the random effects b_*."""
    return not label.startswith("b_")


def assess(posterior: dict[str, np.ndarray], stats_: dict[str, np.ndarray], *,
           chains: int, max_treedepth: int, skip_diagonal: tuple[str, ...] = ()
           ) -> Assessment:
    """Diagnostics of every parameter, classified, with the messages for the user.

    Parameters
    ----------
    posterior : mapping name → draws (chain, draw, ...)
        Random effects are recognised by the ``b_`` prefix.
    stats_ : mapping of sampler statistics (``diverging``, ``reached_max_treedepth``, ...)
    chains, max_treedepth : int
    skip_diagonal : names of correlation matrices whose (constant) diagonal is ignored

    Returns
    -------
    Assessment
    """
    worst = {key: ("", -np.inf) for key in ("rhat_pop", "rhat_b")}
    worst.update({key: ("", np.inf) for key in ("bulk_pop", "tail_pop", "bulk_b", "tail_b")})
    for name, draws in posterior.items():
        d = diagnostics(draws)
        r, eb, et = d["rhat"], d["ess_bulk"], d["ess_tail"]
        if name in skip_diagonal:
            mask = ~np.eye(draws.shape[-1], dtype=bool)
            r, eb, et = (np.where(mask, v, np.nan) for v in (r, eb, et))
        group = "pop" if _is_population(name) else "b"
        worst[f"rhat_{group}"] = _worst(name, r, True, worst[f"rhat_{group}"])
        worst[f"bulk_{group}"] = _worst(name, eb, False, worst[f"bulk_{group}"])
        worst[f"tail_{group}"] = _worst(name, et, False, worst[f"tail_{group}"])
    n_draws = int(np.prod(next(iter(stats_.values())).shape)) if stats_ else 0
    divergent = int(np.sum(stats_.get("diverging", 0)))
    at_max_depth = int(np.sum(stats_.get("reached_max_treedepth", 0)))
    failures, warnings_ = [], []

    worst_rhat = max(worst["rhat_pop"], worst["rhat_b"], key=lambda lv: lv[1])
    if worst_rhat[1] > RHAT_FAIL:
        failures.append(
            f"R-hat is {worst_rhat[1]:.3f} for {worst_rhat[0]} (above {RHAT_FAIL}): the "
            "chains disagree, so they have not converged to one distribution. Run longer "
            "(more tune and draws), use stronger priors, or reparameterise "
            "(parameterization='centred' or 'noncentred')."
        )
    elif worst_rhat[1] > RHAT_WARN:
        which = [lbl for lbl, v in (worst["rhat_pop"], worst["rhat_b"]) if v > RHAT_WARN]
        warnings_.append(
            f"R-hat is {worst_rhat[1]:.3f} for {worst_rhat[0]} (between {RHAT_WARN} and "
            f"{RHAT_FAIL}; worst: {', '.join(which)}): the chains agree only roughly there. "
            "The summaries are usable; for publication-quality tails run more draws."
        )
    if divergent > DIVERGENT_FAIL * n_draws:
        failures.append(
            f"{divergent} of {n_draws} draws after tuning diverged (more than "
            f"{DIVERGENT_FAIL:.0%}): the sampler met curvature it could not follow (often a "
            "funnel between a group SD and its random effects), so the draws are biased. "
            "Try target_accept=0.95 or 0.99, more tune, stronger priors on the SDs (e.g. a "
            "smaller HalfNormal scale), the other parameterization of the random effects, or "
            "a simpler random-effects structure (e.g. (x || g) instead of (x | g))."
        )
    elif divergent:
        warnings_.append(
            f"{divergent} of {n_draws} draws after tuning diverged: a few divergences can "
            "bias the tails slightly. If the result matters, rerun with target_accept=0.95 "
            "and check that they disappear."
        )
    need = ESS_PER_CHAIN_MIN * chains
    pop_low = [(lbl, v, kind) for (lbl, v), kind in
               ((worst["bulk_pop"], "bulk"), (worst["tail_pop"], "tail")) if v < ESS_MIN]
    if pop_low:
        what = "; ".join(f"ESS {kind} {v:.0f} for {lbl}" for lbl, v, kind in pop_low)
        failures.append(
            f"Too few effective draws ({what}; fewer than {ESS_MIN}): the posterior means "
            "and intervals of these parameters are mostly Monte Carlo noise. Increase draws "
            "(and tune), raise target_accept, use stronger priors, or try the other form of "
            "the random effects (parameterization='centred' or 'noncentred')."
        )
    low = [(lbl, v, kind) for (lbl, v), kind in
           ((min(worst["bulk_pop"], worst["bulk_b"], key=lambda lv: lv[1]), "bulk"),
            (min(worst["tail_pop"], worst["tail_b"], key=lambda lv: lv[1]), "tail"))
           if v < need]
    if low and not pop_low:
        what = "; ".join(f"ESS {kind} {v:.0f} for {lbl}" for lbl, v, kind in low)
        warnings_.append(
            f"Low effective sample size ({what}; want at least {need}, i.e. 100 per chain): "
            "means and intervals are imprecise. Increase draws (and tune), raise "
            "target_accept, use stronger priors, or try the other form of the random effects "
            "(parameterization='centred' or 'noncentred')."
        )
    if at_max_depth:
        warnings_.append(
            f"{at_max_depth} of {n_draws} draws stopped at max_treedepth={max_treedepth}: "
            "sampling is inefficient. Raise max_treedepth, or reparameterise / use stronger "
            "priors so the posterior is less elongated."
        )
    worst_bulk = min(worst["bulk_pop"], worst["bulk_b"], key=lambda lv: lv[1])
    worst_tail = min(worst["tail_pop"], worst["tail_b"], key=lambda lv: lv[1])
    summary = {
        "divergences": divergent,
        "max_treedepth_hits": at_max_depth,
        "max_rhat": float(worst_rhat[1]) if np.isfinite(worst_rhat[1]) else None,
        "max_rhat_parameter": worst_rhat[0],
        "min_ess_bulk": float(worst_bulk[1]) if np.isfinite(worst_bulk[1]) else None,
        "min_ess_bulk_parameter": worst_bulk[0],
        "min_ess_tail": float(worst_tail[1]) if np.isfinite(worst_tail[1]) else None,
        "min_ess_tail_parameter": worst_tail[0],
    }
    status = NOT_CONVERGED if failures else (WARNINGS if warnings_ else CONVERGED)
    summary["status"] = status
    return Assessment(status, tuple(failures + warnings_), summary)
