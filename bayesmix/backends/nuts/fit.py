"""The nuts backend's ``fit``: build → compile (once per spec) → sample → Fit."""

from __future__ import annotations

import time
import warnings

import numpy as np

from ...errors import ConvergenceWarning
from ...progress import stage
from ...results import FitInfo, naming
from ...results.adapter import pack
from ...results.fit import Fit
from ...spec import ModelSpec
from . import diagnostics
from .draws import posterior_draws
from .model import build_model
from .options import NutsOptions
from .sample import cached, compile_model, sample, use_low_rank

__all__ = ["fit_nuts"]

# Random effects beyond this many entries are checked on an evenly spaced subset (the full
# rank-normalised diagnostics cost about 1 s per 1000 parameters at 4000 draws); the SDs,
# correlations, β and σ, where convergence problems show first, are always checked in full.
MAX_CHECKED_B = 1000


def _checked_b(b: np.ndarray) -> tuple[np.ndarray, bool]:
    flat = b.reshape(b.shape[0], b.shape[1], -1)
    if flat.shape[2] <= MAX_CHECKED_B:
        return b, False
    idx = np.linspace(0, flat.shape[2] - 1, MAX_CHECKED_B).round().astype(np.intp)
    return flat[:, :, idx], True


def _to_check(spec: ModelSpec, posterior: dict[str, np.ndarray]):
    """The variables the convergence check looks at (b possibly on a subset)."""
    checked, subset = {}, False
    for name, draws in posterior.items():
        if name.startswith("b_"):
            checked[name], sub = _checked_b(draws)
            subset = subset or sub
        else:
            checked[name] = draws
    return checked, subset


def fit_nuts(spec: ModelSpec, options: NutsOptions) -> Fit:
    """Sample the posterior (or the prior) of ``spec`` with NUTS.

    Parameters
    ----------
    spec : ModelSpec
    options : NutsOptions

    Returns
    -------
    Fit
        ``idata.posterior`` holds ``beta``, ``sigma``, ``cutpoints``, ``sd_<label>``,
        ``cor_<label>``, ``b_<label>``; ``sample_stats`` the sampler statistics;
        ``log_likelihood`` the pointwise log-likelihood (see ``log_likelihood`` option).
    """
    timings: dict[str, float] = {}
    key = (options.prior_only, options.sampler, options.nutpie_mode, options.parameterization)

    def build_and_compile():
        start = time.perf_counter()
        model, layout = build_model(spec, prior_only=options.prior_only,
                                    parameterization=options.parameterization)
        built = time.perf_counter() - start
        design = spec.design
        work = design.n * (len(design.x_names) + sum(t.r for t in design.terms) + 2)
        return model, layout, built, compile_model(model, layout.initial, options, work)

    with stage("build and compile the model"):
        model, layout, built, compiled = cached(spec, key, build_and_compile)
    timings["build"], timings["compile"] = built, compiled.seconds
    n_params = sum(int(np.prod(v.type.shape)) for v in model.value_vars)
    low_rank = use_low_rank(options, any(t.centred for t in layout.terms), n_params)
    with stage("sample", f"{options.chains} chains × ({options.tune} tuning + "
                         f"{options.draws} draws)"):
        out = sample(compiled, options, low_rank)
    timings["sample"] = out.seconds

    start = time.perf_counter()
    posterior = posterior_draws(spec, layout, out.draws)
    out.draws.clear()  # the sampler's z (as large as b) is no longer needed
    timings["convert"] = time.perf_counter() - start

    start = time.perf_counter()
    checked, subset = _to_check(spec, posterior)
    skip = tuple(naming.cor_var(t.label) for t in spec.design.terms if t.correlated)
    assessment = diagnostics.assess(
        checked, out.stats, chains=options.chains, max_treedepth=options.max_treedepth,
        skip_diagonal=skip,
    )
    timings["diagnostics"] = time.perf_counter() - start
    for message in assessment.messages:
        warnings.warn(message, ConvergenceWarning, stacklevel=3)

    approximation = ("prior draws (MCMC, NUTS, prior_only=True)" if options.prior_only
                     else "exact (MCMC, NUTS)")
    attrs = {
        "sampler": options.sampler,
        "nutpie_mode": compiled.mode,
        "draws": options.draws,
        "tune": options.tune,
        "chains": options.chains,
        "seed": -1 if options.seed is None else options.seed,
        "target_accept": options.target_accept,
        "prior_only": int(options.prior_only),
    }
    extra = {
        **assessment.summary,
        "sampler": options.sampler,
        "nutpie_mode": compiled.mode,
        "mass_matrix": "low_rank" if low_rank else "diag",
        "seconds_per_gradient": compiled.seconds_per_gradient,
        "random_effects_checked_on_subset": subset,
        "centred_terms": [t.label for t in layout.terms if t.centred],
        "prior_only": options.prior_only,
    }
    info = FitInfo(
        backend="nuts",
        method="NUTS (prior only)" if options.prior_only else "NUTS",
        converged=assessment.status != diagnostics.NOT_CONVERGED,
        status=assessment.status,
        iterations=options.draws * options.chains,
        messages=assessment.messages,
        timings=timings,
        extra=extra,
    )
    return pack(spec, info, approximation=approximation, inference="posterior",
                posterior=posterior,
                sample_stats=out.stats, attrs=attrs,
                log_likelihood=False if options.prior_only else options.log_likelihood)
