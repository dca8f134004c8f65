"""``bayesmix.fit``: the pipeline formula → Design → ModelSpec → backend → Fit in one call."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .backends import get_backend, make_options
from .design import build_design
from .families import Family
from .progress import reporting, stage
from .results import Fit
from .spec import Prior, model_spec

__all__ = ["fit"]


def fit(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    *,
    backend: str = "laplace",
    priors: str | Mapping[str, Prior | str] | None = None,
    link: str | None = None,
    zi: str | None = None,
    weights: str | np.ndarray | None = None,
    na_action: str = "drop",
    context: Mapping[str, Any] | None = None,
    progress: bool = True,
    **options: Any,
) -> Fit:
    """Fit a multilevel model given by an lme4-style formula.

    Equivalent to ``build_design`` → ``model_spec`` → the backend's ``fit``; each stage is
    public for users who want to inspect or reuse it.

    Parameters
    ----------
    formula : str
        For example ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
    family : str or Family
        A name of :data:`bayesmix.families.FAMILIES` (``"gaussian"``, ``"bernoulli"``,
        ``"binomial"``, ``"poisson"``, ``"negbinomial"``, ``"gamma"``, ``"beta"``, ...; see
        :class:`bayesmix.families.Family`) or a Family.
    backend : {"laplace", "nuts", "map"}
        ``"laplace"`` integrates the random effects out on a sparse Cholesky (lme4's
        algorithm); ``"nuts"`` samples the full posterior with PyMC; ``"map"`` fits β and b at
        a known covariance.
    priors : None, "default", "flat" or dict
        Priors by parameter name or role (see :mod:`bayesmix.spec`); None uses the backend's
        default.
    link, zi, weights, na_action, context
        See :func:`bayesmix.build_design`.
    progress : bool
        Report stages that run longer than 2 s (design, compile, sample, optimize,
        integrate, draws) as lines on standard error (:mod:`bayesmix.progress`); False
        silences them.
    **options
        Backend options, validated by the backend's options object (an unknown keyword is an
        error listing the valid ones).

    Returns
    -------
    Fit
    """
    be = get_backend(backend)
    opts = make_options(be, **options)
    with reporting(be.name, progress):
        start = time.perf_counter()
        with stage("design"):
            design = build_design(
                formula, data, family, link=link, zi=zi, weights=weights,
                na_action=na_action, context=context,
            )
            spec = model_spec(design, priors, base=be.default_priors_for(design))
        built = time.perf_counter() - start
        result = be.fit(spec, opts)
    timings = {"design": built, **result.info.timings}
    return dataclasses.replace(
        result, info=dataclasses.replace(result.info, timings=timings)
    )
