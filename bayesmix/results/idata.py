"""Assemble every backend's output into one InferenceData layout.

Backends hand over plain arrays of draws with shape (chain, draw, ...); this module attaches
the shared dims and coords of :mod:`bayesmix.results.naming`, the observed and constant data,
and the attrs that record how the draws were obtained.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..spec import ModelSpec
from . import naming

if TYPE_CHECKING:
    import arviz as az

__all__ = ["make_idata"]


def make_idata(
    spec: ModelSpec,
    posterior: Mapping[str, np.ndarray] | None,
    *,
    backend: str,
    approximation: str,
    inference: str = "posterior",
    mode=None,
    log_likelihood: Mapping[str, np.ndarray] | None = None,
    sample_stats: Mapping[str, np.ndarray] | None = None,
    extra_dims: Mapping[str, list[str]] | None = None,
    extra_coords: Mapping[str, object] | None = None,
    attrs: Mapping[str, object] | None = None,
) -> az.InferenceData:
    """InferenceData with the shared names.

    Parameters
    ----------
    spec : ModelSpec
    posterior : mapping name → array (chain, draw, ...), or None
        Must use the shared names for the shared quantities (``beta``, ``sd_<label>``, ...);
        backend-specific variables are allowed with ``extra_dims``. None: no draws (a
        mode-based fit with ``draws=0``).
    backend : str
        ``"nuts"``, ``"laplace"``, ``"map"``.
    approximation : str
        How the draws represent the posterior, e.g. ``"exact (MCMC)"`` or
        ``"Gaussian at the mode"``; stored in attrs so approximate results are labelled.
    inference : {"posterior", "mode"}
        What the fit's tables report: summaries of the posterior draws, or the estimates at
        the mode (``mode``).
    mode : Estimates, optional
        Estimates at the mode, stored as the group ``mode``.
    log_likelihood : mapping, optional
        Pointwise log-likelihood ``{"y": (chain, draw, n)}``.
    sample_stats : mapping, optional
    extra_dims, extra_coords : optional
        Dims and coords of backend-specific variables.
    attrs : mapping, optional
        Further attrs (JSON-serialisable values).
    """
    import arviz as az

    design = spec.design
    dims = naming.dims(design)
    coords = naming.coords(design)
    if extra_dims:
        dims.update(extra_dims)
    if extra_coords:
        coords.update(extra_coords)
    constant = {"X": design.X}
    dims["X"] = [naming.OBS, naming.COEF]
    for name, arr in (("trials", design.trials), ("offset", design.offset),
                      ("weights", design.weights)):
        if arr is not None:
            constant[name] = arr
            dims[name] = [naming.OBS]
    for t in design.terms:
        constant[f"{t.label}_code"] = t.codes
        dims[f"{t.label}_code"] = [naming.OBS]
    info = {
        "inference_library": "bayesmix",
        "backend": backend,
        "approximation": approximation,
        "inference": inference,
        "formula": design.formula,
        "family": design.family.name,
        "link": design.family.link.name,
        "priors": json.dumps(spec.describe()),
    }
    if attrs:
        info.update({k: v if isinstance(v, (str, int, float)) else json.dumps(v, default=str)
                     for k, v in attrs.items()})
    idata = az.from_dict(
        posterior=dict(posterior) if posterior is not None else None,
        log_likelihood=dict(log_likelihood) if log_likelihood else None,
        sample_stats=dict(sample_stats) if sample_stats else None,
        observed_data={naming.Y: design.y},
        constant_data=constant,
        coords=coords,
        dims=dims,
        attrs=info,
    )
    if mode is not None:
        from .estimates import MODE_GROUP

        group = mode.to_dataset(design, coords)
        group.attrs.update(info)
        idata.add_groups({MODE_GROUP: group})
    return idata
