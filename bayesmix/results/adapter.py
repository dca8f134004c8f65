"""One way from a backend's output to a Fit.

A backend hands over either draws of the posterior (MCMC, or draws from its approximation)
or estimates at a mode with the Gaussian around it, or both, and gets the same Fit: the
InferenceData with the shared names (:mod:`.naming`), the pointwise log-likelihood computed
by one function (:mod:`.loglik`) under one storage policy (:mod:`.storage`), and the
estimates in the group ``mode``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping

import numpy as np

from ..spec import ModelSpec
from . import naming
from .estimates import Estimates
from .fit import Fit, FitInfo
from .idata import make_idata
from .loglik import pointwise_loglik
from .storage import store_log_likelihood

__all__ = ["pack", "fixed_hyperparameters"]


def fixed_hyperparameters(spec: ModelSpec, estimates: Estimates, chains: int,
                          draws: int) -> dict[str, np.ndarray]:
    """SDs, correlations, σ and the family's parameters held at their estimates, as (chain, draw, ...) arrays: the
    posterior variables of a fit that conditions on them."""
    design = spec.design
    out = {}
    if design.family.has_sigma and estimates.sigma is not None:
        out[naming.SIGMA] = np.full((chains, draws), estimates.sigma)
    for name, value in (estimates.family_params or {}).items():
        out[name] = np.full((chains, draws), value)
    for t, te in zip(design.terms, estimates.terms):
        out[naming.sd_var(t.label)] = np.broadcast_to(te.sd, (chains, draws, t.r)).copy()
        if t.correlated and te.cor is not None:
            out[naming.cor_var(t.label)] = np.broadcast_to(
                te.cor, (chains, draws, t.r, t.r)).copy()
    return out


def pack(spec: ModelSpec, info: FitInfo, *, approximation: str, inference: str,
         posterior: Mapping[str, np.ndarray] | None = None,
         estimates: Estimates | None = None,
         sample_stats: Mapping[str, np.ndarray] | None = None,
         log_likelihood: bool | str = "auto", attrs: Mapping | None = None,
         extra_dims=None, extra_coords=None) -> Fit:
    """The Fit of a backend's results.

    Parameters
    ----------
    spec : ModelSpec
    info : FitInfo
        Messages get the storage policy's note when the log-likelihood is left out;
        timings get ``log_likelihood``.
    approximation : str
        How the draws represent the posterior (stored in attrs).
    inference : {"posterior", "mode"}
        What the tables report (see :func:`~.idata.make_idata`).
    posterior : mapping of shared names to (chain, draw, ...) arrays, optional
    estimates : Estimates, optional
    sample_stats : mapping, optional
    log_likelihood : {"auto", True, False}
    attrs, extra_dims, extra_coords : optional
        Passed to :func:`~.idata.make_idata`.
    """
    if inference not in ("posterior", "mode"):
        raise ValueError(f"inference must be 'posterior' or 'mode', not {inference!r}")
    if inference == "mode" and estimates is None:
        raise ValueError("a mode-based fit needs its estimates")
    messages = list(info.messages)
    loglik = None
    start = time.perf_counter()
    if posterior is not None:
        beta = posterior[naming.BETA]
        values = int(beta.shape[0] * beta.shape[1] * spec.design.n)
        store, note = store_log_likelihood(log_likelihood, values)
        if store:
            loglik = {naming.Y: pointwise_loglik(spec.design, posterior)}
        elif note:
            messages.append(note)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    idata = make_idata(spec, posterior, backend=info.backend, approximation=approximation,
                       inference=inference, mode=estimates, log_likelihood=loglik,
                       sample_stats=sample_stats, extra_dims=extra_dims,
                       extra_coords=extra_coords, attrs=attrs)
    info = dataclasses.replace(info, messages=tuple(messages),
                               timings={**info.timings, "log_likelihood": seconds,
                                        "idata": time.perf_counter() - start})
    return Fit(spec=spec, idata=idata, info=info)
